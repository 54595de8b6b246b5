// SPDX-License-Identifier: Apache-2.0
// The Ingestor's delivery queue, driven by hand under a fake clock: no threads, no server, no
// test here waits.
#include "delivery_queue.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/fake_clock.hpp"
#include "support/printers.hpp"

namespace instasent::detail {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

QueuedItem item(Operation op, const std::string& user, std::uint64_t tag = 0) {
  QueuedItem item;
  item.op = op;
  item.tag = tag;
  item.user_id = user;
  if (op == Operation::record_event) item.event_id = "E-" + std::to_string(tag);
  if (op != Operation::delete_contact) item.json = R"({"_user_id":")" + user + "\"}";
  return item;
}

QueuedItem upsert(const std::string& user, std::uint64_t tag = 0) {
  return item(Operation::upsert_contact, user, tag);
}

QueuedItem event(const std::string& user, std::uint64_t tag = 0) {
  return item(Operation::record_event, user, tag);
}

std::vector<std::uint64_t> tags(const Batch& batch) {
  std::vector<std::uint64_t> tags;
  for (const QueuedItem& item : batch.items) tags.push_back(item.tag);
  return tags;
}

std::vector<Verdict> verdicts(const Batch& batch, Verdict::Kind kind, int status = 202) {
  Verdict verdict;
  verdict.kind = kind;
  verdict.http_status = status;
  return std::vector<Verdict>(batch.items.size(), verdict);
}

class DeliveryQueueTest : public ::testing::Test {
 protected:
  DeliveryQueueTest() {
    options.batch.max_items = 3;
    options.flush_interval = milliseconds(500);
  }

  DeliveryQueue& queue() {
    if (!queue_) {
      queue_ = std::make_unique<DeliveryQueue>(options, stats);
      pacer_ = std::make_unique<Pacer>(RetryPolicy{}, 0.2, now());
    }
    return *queue_;
  }
  Pacer& pacer() {
    queue();
    return *pacer_;
  }

  std::chrono::steady_clock::time_point now() { return clock.steady_now(); }

  // The next batch that may go now; empty when none may (with `wake` set).
  Batch take(bool closing = false) {
    wake = now() + std::chrono::hours(1);
    return queue().take_batch(now(), pacer(), closing, wake);
  }

  // Settles a batch with one verdict for all its items, as a request that ended now (`failed`:
  // without a usable answer).
  Settled answer(Batch& batch, Verdict::Kind kind, bool failed = false) {
    Settled settled;
    const RetrySchedule schedule = pacer().on_end(
        queue_of(batch.op), now(), {failed, std::nullopt, batch.retry, std::nullopt});
    queue().settle(batch, verdicts(batch, kind), schedule, settled);
    return settled;
  }

  IngestorOptions options;
  IngestorStats stats;
  FakeClock clock;
  std::chrono::steady_clock::time_point wake;

 private:
  std::unique_ptr<DeliveryQueue> queue_;
  std::unique_ptr<Pacer> pacer_;
};

TEST_F(DeliveryQueueTest, AFullBatchGoesAtOnceAndTheRestAfterTheFlushInterval) {
  for (std::uint64_t i = 1; i <= 4; ++i) queue().push(upsert("U" + std::to_string(i), i), now());
  EXPECT_EQ(tags(take()), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_TRUE(take().items.empty()) << "one item is not a batch yet";
  EXPECT_EQ(wake, now() + milliseconds(500));
  clock.advance(milliseconds(500));
  EXPECT_EQ(tags(take()), std::vector<std::uint64_t>{4});
  EXPECT_EQ(stats.in_flight, 4u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST_F(DeliveryQueueTest, FlushAndCloseMakeEveryQueuedItemDue) {
  queue().push(upsert("U1", 1), now());
  EXPECT_TRUE(take().items.empty());
  EXPECT_EQ(tags(take(/*closing=*/true)), std::vector<std::uint64_t>{1});
  queue().push(upsert("U2", 2), now());
  const std::uint64_t last = queue().flush_all();
  EXPECT_EQ(tags(take()), std::vector<std::uint64_t>{2});
  queue().push(upsert("U3", 3), now());
  EXPECT_TRUE(take().items.empty()) << "an item added after the flush waits as usual";
  EXPECT_FALSE(queue().final_up_to(last));
}

TEST_F(DeliveryQueueTest, ABatchStopsBeforeTheItemThatWouldPassBatchBytes) {
  const std::size_t size = upsert("U1").json.size();
  options.batch.max_bytes = 2 + 2 * size + 1;  // two items, their comma and the brackets
  for (std::uint64_t i = 1; i <= 3; ++i) queue().push(upsert("U" + std::to_string(i), i), now());
  EXPECT_EQ(tags(take(true)), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{3});
}

TEST_F(DeliveryQueueTest, ContactsEventsAndDeletesGoInTurnAndDeletesAlone) {
  queue().push(upsert("U1", 1), now());
  queue().push(event("U2", 2), now());
  queue().push(item(Operation::delete_contact, "U3", 3), now());
  queue().push(item(Operation::delete_contact, "U4", 4), now());
  std::vector<Operation> ops;
  std::vector<std::size_t> sizes;
  for (Batch batch = take(true); !batch.items.empty(); batch = take(true)) {
    ops.push_back(batch.op);
    sizes.push_back(batch.items.size());
  }
  EXPECT_EQ(ops, (std::vector<Operation>{Operation::upsert_contact, Operation::record_event,
                                         Operation::delete_contact, Operation::delete_contact}));
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 1, 1, 1}));
}

TEST_F(DeliveryQueueTest, AnEventWaitsForItsUsersUpsertToBeFinal) {
  queue().push(upsert("U1", 1), now());
  queue().push(event("U1", 2), now());
  queue().push(event("U2", 3), now());
  Batch upserts = take(true);
  ASSERT_EQ(tags(upserts), std::vector<std::uint64_t>{1});
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{3}) << "U2's event need not wait";
  EXPECT_TRUE(take(true).items.empty()) << "U1's event waits for U1's upsert";
  answer(upserts, Verdict::rejected);
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{2}) << "a final state, even rejected";
}

TEST_F(DeliveryQueueTest, AnUpsertWaitsForItsUsersDeleteButJoinsItsUsersUpsert) {
  queue().push(upsert("U1", 1), now());
  queue().push(upsert("U1", 2), now());
  EXPECT_EQ(tags(take(true)), (std::vector<std::uint64_t>{1, 2})) << "one request, in order";
  queue().push(item(Operation::delete_contact, "U2", 3), now());
  queue().push(upsert("U2", 4), now());
  Batch deletes = take(true);
  ASSERT_EQ(tags(deletes), std::vector<std::uint64_t>{3});
  EXPECT_TRUE(take(true).items.empty()) << "the upsert waits for the delete";
  answer(deletes, Verdict::delivered);
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{4});
}

TEST_F(DeliveryQueueTest, AFailedItemGoesBackToTheFrontAndWaitsItsBackoff) {
  queue().push(upsert("U1", 1), now());
  Batch first = take(true);
  queue().push(upsert("U2", 2), now());
  const Settled settled = answer(first, Verdict::retry, true);
  EXPECT_TRUE(settled.outcomes.empty());
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{2}) << "newer items keep flowing";
  EXPECT_TRUE(take(true).items.empty());
  EXPECT_GT(wake, now());
  clock.advance(std::chrono::duration_cast<milliseconds>(wake - now()));
  Batch again = take(true);
  EXPECT_EQ(tags(again), std::vector<std::uint64_t>{1});
  EXPECT_TRUE(again.retry);
  EXPECT_EQ(again.items.front().attempts, 2);
}

TEST_F(DeliveryQueueTest, AnItemIsDroppedAfterMaxAttempts) {
  options.retry.max_attempts = 2;
  queue().push(upsert("U1", 1), now());
  Batch batch = take(true);
  answer(batch, Verdict::retry, true);
  clock.advance(milliseconds(1'000));
  batch = take(true);
  const Settled settled = answer(batch, Verdict::retry, true);
  ASSERT_EQ(settled.outcomes.size(), 1u);
  EXPECT_EQ(settled.outcomes[0].drop_reason, DropReason::retries_exhausted);
  EXPECT_EQ(settled.outcomes[0].message, "no answer accepted it after 2 attempts");
  EXPECT_EQ(stats.dropped_retries_exhausted, 1u);
  EXPECT_TRUE(queue().all_final());
}

TEST_F(DeliveryQueueTest, RetriesWaitWhileTheBudgetIsSpent) {
  for (int i = 0; i < 10; ++i) pacer().on_send(0, true);  // the ten free retries are spent
  queue().push(upsert("U1", 1), now());
  Batch batch = take(true);
  answer(batch, Verdict::retry, true);
  clock.advance(milliseconds(60'000));  // far past the item's backoff
  EXPECT_TRUE(take(true).items.empty());
  EXPECT_EQ(wake, pacer().next_retry_token(now()));
  clock.advance(milliseconds(101));
  pacer().refill(now());
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{1});
}

TEST_F(DeliveryQueueTest, ABatchRefusedAsAWholeIsSplitUntilTheCulpritIsAlone) {
  options.batch.max_items = 4;
  for (std::uint64_t i = 1; i <= 4; ++i) queue().push(upsert("U" + std::to_string(i), i), now());
  Batch batch = take(true);
  ASSERT_EQ(batch.items.size(), 4u);
  EXPECT_TRUE(answer(batch, Verdict::split).outcomes.empty());
  Batch half = take(true);
  EXPECT_EQ(tags(half), (std::vector<std::uint64_t>{1, 2})) << "at once: no backoff";
  EXPECT_EQ(half.items.front().attempts, 1) << "a split is not a failed attempt";
  answer(half, Verdict::split);
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{1});
}

// flush() waits for final_up_to(last): false while the last flushed item itself is unfinished,
// even when every item before it is final.
TEST_F(DeliveryQueueTest, AFlushIsDoneOnlyWhenItsLastItemIsFinal) {
  queue().push(upsert("U1", 1), now());
  Batch first = take(/*closing=*/true);
  queue().push(upsert("U2", 2), now());
  const std::uint64_t last = queue().flush_all();
  answer(first, Verdict::delivered);
  EXPECT_FALSE(queue().final_up_to(last)) << "U2 is still queued";
  Batch second = take();
  ASSERT_EQ(tags(second), std::vector<std::uint64_t>{2});
  EXPECT_FALSE(queue().final_up_to(last)) << "U2 is in flight";
  answer(second, Verdict::delivered);
  EXPECT_TRUE(queue().final_up_to(last));
}

// With nobody to read them, outcomes are only counted: the items are final all the same.
TEST_F(DeliveryQueueTest, OutcomesNobodyReadsAreCountedNotBuilt) {
  for (std::uint64_t i = 1; i <= 3; ++i) queue().push(event("U" + std::to_string(i), i), now());
  Batch batch = take(/*closing=*/true);
  ASSERT_EQ(batch.items.size(), 3u);
  Settled settled;
  settled.keep_outcomes = false;
  queue().settle(batch, verdicts(batch, Verdict::delivered), pacer().on_end(1, now(), RequestEnd{}),
                 settled);
  EXPECT_EQ(settled.count, 3u);
  EXPECT_TRUE(settled.outcomes.empty());
  EXPECT_EQ(stats.delivered, 3u);
  EXPECT_EQ(queue().settled_total(), 3u);
  EXPECT_TRUE(queue().all_final());
}

TEST_F(DeliveryQueueTest, OutcomesCarryTheVerdictAndCountOnce) {
  queue().push(event("U1", 7), now());
  Batch batch = take(true);
  Settled settled;
  std::vector<Verdict> rejected = verdicts(batch, Verdict::rejected, 422);
  rejected[0].errors["email"].push_back("is invalid");
  queue().settle(batch, rejected, pacer().on_end(1, now(), RequestEnd{}), settled);
  ASSERT_EQ(settled.outcomes.size(), 1u);
  const ItemOutcome& outcome = settled.outcomes[0];
  EXPECT_EQ(outcome.operation, Operation::record_event);
  EXPECT_EQ(outcome.tag, 7u);
  EXPECT_EQ(outcome.event_id, "E-7");
  EXPECT_EQ(outcome.state, FinalState::rejected);
  EXPECT_EQ(outcome.http_status, 422);
  EXPECT_EQ(outcome.errors.at("email"), std::vector<std::string>{"is invalid"});
  EXPECT_EQ(stats.rejected, 1u);
  EXPECT_EQ(queue().settled_total(), 1u);
  EXPECT_EQ(stats.in_flight, 0u);
}

TEST_F(DeliveryQueueTest, TheQueueBoundsCountItemsAndBytes) {
  options.queue.max_items = 2;
  queue().push(upsert("U1"), now());
  EXPECT_TRUE(queue().has_room(100));
  queue().push(upsert("U2"), now());
  EXPECT_FALSE(queue().has_room(100));
  take(true);  // items in a request no longer count
  EXPECT_TRUE(queue().has_room(100));
  EXPECT_FALSE(queue().has_room(options.queue.max_bytes + 1));
}

TEST_F(DeliveryQueueTest, DropOldestTakesTheOldestOfAnyQueue) {
  queue().push(event("U1", 1), now());
  queue().push(upsert("U2", 2), now());
  Settled settled;
  ASSERT_TRUE(queue().drop_oldest(settled));
  ASSERT_EQ(settled.outcomes.size(), 1u);
  EXPECT_EQ(settled.outcomes[0].tag, 1u);
  EXPECT_EQ(settled.outcomes[0].drop_reason, DropReason::queue_full);
  EXPECT_EQ(settled.outcomes[0].message, "pushed out of a full queue by a newer item");
  ASSERT_TRUE(queue().drop_oldest(settled));
  EXPECT_FALSE(queue().drop_oldest(settled));
  EXPECT_EQ(stats.dropped_queue_full, 2u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST_F(DeliveryQueueTest, DropAllGivesUpQueuedAndInFlightItemsOnce) {
  queue().push(upsert("U1", 1), now());
  Batch in_flight = take(true);
  queue().push(upsert("U2", 2), now());
  Settled left;
  queue().drop_all(left);
  ASSERT_EQ(left.outcomes.size(), 2u);
  std::set<std::pair<std::string, std::uint64_t>> given_up;  // user id and tag
  for (const ItemOutcome& outcome : left.outcomes) {
    EXPECT_EQ(outcome.drop_reason, DropReason::shutdown);
    EXPECT_EQ(outcome.message, "not delivered by the close deadline");
    given_up.emplace(outcome.user_id, outcome.tag);
  }
  EXPECT_EQ(given_up, (std::set<std::pair<std::string, std::uint64_t>>{{"U1", 1}, {"U2", 2}}));
  // The request's answer comes later: its item is already final.
  EXPECT_TRUE(answer(in_flight, Verdict::delivered).outcomes.empty());
  EXPECT_TRUE(queue().all_final());
  EXPECT_EQ(stats.delivered, 0u);
  EXPECT_EQ(stats.dropped_shutdown, 2u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.in_flight, 0u);
}

TEST_F(DeliveryQueueTest, SpooledItemsAreForgottenWhenFinalAndKeptAtShutdown) {
  QueuedItem delivered = upsert("U1", 1);
  delivered.spool = {11, 1};
  QueuedItem left = upsert("U2", 2);
  left.spool = {12, 1};
  queue().push(std::move(delivered), now());
  Batch batch = take(true);
  const Settled settled = answer(batch, Verdict::delivered);
  ASSERT_EQ(settled.spool_done.size(), 1u);
  EXPECT_EQ(settled.spool_done[0].id, 11u);
  queue().push(std::move(left), now());
  Settled shutdown;
  queue().drop_all(shutdown);
  EXPECT_TRUE(shutdown.spool_done.empty());
  ASSERT_EQ(shutdown.outcomes.size(), 1u);
  EXPECT_TRUE(shutdown.outcomes[0].kept_in_spool);
  EXPECT_EQ(shutdown.outcomes[0].message,
            "not delivered by the close deadline; kept in the spool for the next ingestor");
}

TEST_F(DeliveryQueueTest, ASpoolSegmentIsDroppedOnlyWhenAllItsLiveItemsAreQueued) {
  for (std::uint64_t i = 1; i <= 3; ++i) {
    QueuedItem spooled = upsert("U" + std::to_string(i), i);
    spooled.spool = {i, i < 3 ? 1u : 2u};
    queue().push(std::move(spooled), now());
  }
  Settled settled;
  EXPECT_FALSE(queue().drop_segment(1, 3, settled)) << "one of its items is elsewhere";
  ASSERT_TRUE(queue().drop_segment(1, 2, settled));
  ASSERT_EQ(settled.outcomes.size(), 2u);
  EXPECT_EQ(settled.outcomes[0].tag, 1u);
  EXPECT_EQ(settled.outcomes[1].tag, 2u);
  EXPECT_EQ(settled.outcomes[0].message, "pushed out of a full spool by a newer item");
  EXPECT_EQ(settled.spool_done.size(), 2u);
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{3});
}

TEST_F(DeliveryQueueTest, AnUnsendableItemIsSettledAtOnce) {
  QueuedItem damaged = upsert("U1", 5);
  damaged.spool = {9, 1};
  Settled settled;
  queue().settle_unsendable(std::move(damaged),
                            Ending::dropped(DropReason::spool_damaged, "damaged"), settled);
  ASSERT_EQ(settled.outcomes.size(), 1u);
  EXPECT_EQ(settled.outcomes[0].drop_reason, DropReason::spool_damaged);
  EXPECT_EQ(settled.spool_done.size(), 1u);
  EXPECT_EQ(stats.enqueued, 1u);
  EXPECT_EQ(stats.dropped_spool_damaged, 1u);
  EXPECT_TRUE(queue().all_final());
}

TEST_F(DeliveryQueueTest, AnItemThatExactlyFillsTheQueueBytesFits) {
  options.queue.max_bytes = upsert("U1").bytes() + 100;
  queue().push(upsert("U1"), now());
  EXPECT_TRUE(queue().has_room(100));
  EXPECT_FALSE(queue().has_room(101));
}

TEST_F(DeliveryQueueTest, ABatchOfExactlyMaxItemsIsDueAtOnce) {
  for (std::uint64_t i = 1; i <= 3; ++i) queue().push(upsert("U" + std::to_string(i), i), now());
  EXPECT_EQ(tags(take()), (std::vector<std::uint64_t>{1, 2, 3})) << "no flush interval to wait";
}

TEST_F(DeliveryQueueTest, ABusyQueueDoesNotStarveTheOthers) {
  for (std::uint64_t i = 1; i <= 6; ++i) queue().push(upsert("U" + std::to_string(i), i), now());
  for (std::uint64_t i = 7; i <= 9; ++i) queue().push(event("U" + std::to_string(i), i), now());
  EXPECT_EQ(take().op, Operation::upsert_contact);
  EXPECT_EQ(take().op, Operation::record_event) << "the events' turn, though contacts are due";
  EXPECT_EQ(take().op, Operation::upsert_contact);
}

TEST_F(DeliveryQueueTest, ASplitItemKeepsItsLimitBehindRetriedItems) {
  options.batch.max_items = 4;
  queue().push(upsert("U1", 1), now());
  queue().push(upsert("U2", 2), now());
  Batch retried = take(true);
  ASSERT_EQ(tags(retried), (std::vector<std::uint64_t>{1, 2}));
  for (std::uint64_t i = 3; i <= 6; ++i) queue().push(upsert("U" + std::to_string(i), i), now());
  Batch refused = take(true);
  ASSERT_EQ(tags(refused), (std::vector<std::uint64_t>{3, 4, 5, 6}));
  answer(refused, Verdict::split);  // 3..6 may now go two at a time
  answer(retried, Verdict::retry, true);
  EXPECT_EQ(tags(take(true)), (std::vector<std::uint64_t>{3, 4})) << "1 and 2 wait their backoff";
  clock.advance(milliseconds(60'000));
  // 1 and 2 are ready again, ahead of 5 and 6: a batch of two may not take 5 as a third.
  EXPECT_EQ(tags(take(true)), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(tags(take(true)), (std::vector<std::uint64_t>{5, 6}));
}

TEST_F(DeliveryQueueTest, AnItemGivenUpWhileInFlightIsNotQueuedAgainByALateFailure) {
  queue().push(upsert("U1", 1), now());
  Batch in_flight = take(true);
  Settled left;
  queue().drop_all(left);
  ASSERT_EQ(left.outcomes.size(), 1u);
  EXPECT_TRUE(answer(in_flight, Verdict::retry, true).outcomes.empty());
  EXPECT_EQ(stats.queued, 0u);
  clock.advance(milliseconds(60'000));
  EXPECT_TRUE(take(true).items.empty());
}

TEST_F(DeliveryQueueTest, AFinalOperationLeavesItsUsersNewerOneToWaitFor) {
  queue().push(upsert("U1", 1), now());
  Batch first = take(true);
  queue().push(item(Operation::delete_contact, "U1", 2), now());  // waits for 1
  answer(first, Verdict::delivered);
  queue().push(upsert("U1", 3), now());  // must wait for the delete, not only for 1
  Batch deletes = take(true);
  EXPECT_EQ(tags(deletes), std::vector<std::uint64_t>{2});
  EXPECT_TRUE(take(true).items.empty()) << "the upsert went before the delete was final";
  answer(deletes, Verdict::delivered);
  EXPECT_EQ(tags(take(true)), std::vector<std::uint64_t>{3});
}

}  // namespace
}  // namespace instasent::detail
