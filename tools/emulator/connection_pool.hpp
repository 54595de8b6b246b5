// SPDX-License-Identifier: Apache-2.0
// The task queue of the emulator's HTTP server: each connection on its own thread, up to a cap.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace instasent::emulator {

/// Runs each task (httplib gives one per accepted connection) on a thread of its own, so that an
/// idle or slow connection holds only itself up. With `max_connections` running, enqueue() waits
/// for one of them to end: the server stops accepting, and new connections wait in the listen
/// queue instead of being refused.
class ConnectionPool final : public httplib::TaskQueue {
 public:
  explicit ConnectionPool(std::size_t max_connections);
  ~ConnectionPool() override;
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  void enqueue(std::function<void()> connection) override;
  /// Waits for every task to end and joins its thread; tasks must end by themselves (the server
  /// wakes its connections when it stops).
  void shutdown() override;

 private:
  // Called by a task's thread as its last step.
  void finish();
  // Joins the threads of ended tasks; called with `mutex_` unlocked.
  static void join(std::vector<std::thread>& threads);

  const std::size_t max_connections_;
  std::mutex mutex_;
  std::condition_variable task_ended_;
  std::map<std::thread::id, std::thread> running_;
  std::vector<std::thread> ended_;  // to join; their tasks are over
};

}  // namespace instasent::emulator
