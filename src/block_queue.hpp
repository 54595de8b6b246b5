// SPDX-License-Identifier: Apache-2.0
// A queue that takes items at its back and, for those sent back, at its front, kept in blocks of
// `Items` items. std::deque allocates a block per 512 bytes (three of the Ingestor's items of 160
// bytes) and frees it when emptied; here a block holds 64 of them, and the last block emptied is
// kept for the next one needed. An item costs its own size and a share of one allocation of its
// block; what is unused is the rest of the first and the last block.
#pragma once

#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace instasent::detail {

template <typename T, std::size_t Items>
class BlockQueue {
  static_assert(Items > 0 && (Items & (Items - 1)) == 0, "a power of two: a slot is a shift away");
  static_assert(std::is_nothrow_move_constructible_v<T>, "a move into a slot cannot fail");

  // Room for one item, constructed and destroyed by the queue.
  union Slot {
    Slot() noexcept {}
    ~Slot() {}
    T item;
  };
  struct Block {
    Slot slots[Items];
  };

  // Walks the slots in order, with the block of the current one at hand.
  template <bool Const>
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const T*, T*>;
    using reference = std::conditional_t<Const, const T&, T&>;
    using Queue = std::conditional_t<Const, const BlockQueue, BlockQueue>;
    using BlockPointer = std::conditional_t<Const, const Block*, Block*>;

    Iterator(Queue* queue, std::size_t slot) : queue_(queue), slot_(slot) { find_block(); }
    reference operator*() const { return block_->slots[slot_ % Items].item; }
    pointer operator->() const { return &block_->slots[slot_ % Items].item; }
    Iterator& operator++() {
      if (++slot_ % Items == 0) find_block();
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator& other) const { return slot_ == other.slot_; }
    bool operator!=(const Iterator& other) const { return slot_ != other.slot_; }

   private:
    void find_block() {
      const std::size_t at = slot_ / Items;
      block_ = at < queue_->blocks_.size() ? queue_->blocks_[at].get() : nullptr;
    }

    Queue* queue_;
    std::size_t slot_;
    BlockPointer block_ = nullptr;
  };

 public:
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  BlockQueue() = default;
  BlockQueue(const BlockQueue&) = delete;
  BlockQueue& operator=(const BlockQueue&) = delete;
  ~BlockQueue() { clear(); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& front() { return blocks_.front()->slots[head_].item; }
  const T& front() const { return blocks_.front()->slots[head_].item; }

  iterator begin() { return {this, head_}; }
  iterator end() { return {this, head_ + size_}; }
  const_iterator begin() const { return {this, head_}; }
  const_iterator end() const { return {this, head_ + size_}; }

  // The front item is in the first block, at `head_` (below Items), and the back item in the
  // last block: no block is ever left empty at either end.
  void push_back(T&& item) {
    const std::size_t slot = head_ + size_;
    if (slot == blocks_.size() * Items) blocks_.push_back(take_block());
    new (&blocks_.back()->slots[slot % Items].item) T(std::move(item));
    ++size_;
  }

  void push_front(T&& item) {
    if (head_ == 0) {
      blocks_.push_front(take_block());
      head_ = Items;
    }
    new (&blocks_.front()->slots[head_ - 1].item) T(std::move(item));
    --head_;
    ++size_;
  }

  void pop_front() {
    blocks_.front()->slots[head_].item.~T();
    ++head_;
    --size_;
    if (size_ == 0) {
      release_blocks();
    } else if (head_ == Items) {
      give_back(std::move(blocks_.front()));
      blocks_.pop_front();
      head_ = 0;
    }
  }

  void clear() {
    for (T& item : *this) item.~T();
    size_ = 0;
    release_blocks();
  }

  void swap(BlockQueue& other) noexcept {
    blocks_.swap(other.blocks_);
    std::swap(head_, other.head_);
    std::swap(size_, other.size_);
    spare_.swap(other.spare_);
  }

 private:
  std::unique_ptr<Block> take_block() {
    if (spare_) return std::move(spare_);
    return std::unique_ptr<Block>(new Block);  // not value-initialized: nothing to zero
  }
  void give_back(std::unique_ptr<Block> block) {
    if (!spare_) spare_ = std::move(block);
  }
  // With no item left: every block goes, but one that is kept for the next.
  void release_blocks() {
    while (!blocks_.empty()) {
      give_back(std::move(blocks_.back()));
      blocks_.pop_back();
    }
    head_ = 0;
  }

  std::deque<std::unique_ptr<Block>> blocks_;  // the item at slot s is in blocks_[s / Items]
  std::size_t head_ = 0;                       // the front item's slot
  std::size_t size_ = 0;
  std::unique_ptr<Block> spare_;  // the last block emptied, kept for the next one needed
};

}  // namespace instasent::detail
