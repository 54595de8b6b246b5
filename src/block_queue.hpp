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

  template <bool Const>
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const T*, T*>;
    using reference = std::conditional_t<Const, const T&, T&>;
    using Queue = std::conditional_t<Const, const BlockQueue, BlockQueue>;

    Iterator(Queue* queue, std::size_t index) : queue_(queue), index_(index) {}
    reference operator*() const { return queue_->at(index_); }
    pointer operator->() const { return &queue_->at(index_); }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++index_;
      return before;
    }
    bool operator==(const Iterator& other) const { return index_ == other.index_; }
    bool operator!=(const Iterator& other) const { return index_ != other.index_; }

   private:
    Queue* queue_;
    std::size_t index_;
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
  T& front() { return at(0); }
  const T& front() const { return at(0); }

  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

  void push_back(T&& item) {
    const std::size_t slot = head_ + size_;
    if (slot == blocks_.size() * Items) blocks_.push_back(take_block());
    new (&slot_at(slot).item) T(std::move(item));
    ++size_;
  }

  void push_front(T&& item) {
    if (head_ == 0) {
      blocks_.push_front(take_block());
      head_ = Items;
    }
    new (&slot_at(head_ - 1).item) T(std::move(item));
    --head_;
    ++size_;
  }

  void pop_front() {
    slot_at(head_).item.~T();
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
    for (std::size_t i = 0; i < size_; ++i) slot_at(head_ + i).item.~T();
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
  T& at(std::size_t index) { return slot_at(head_ + index).item; }
  const T& at(std::size_t index) const { return slot_at(head_ + index).item; }
  Slot& slot_at(std::size_t slot) { return blocks_[slot / Items]->slots[slot % Items]; }
  const Slot& slot_at(std::size_t slot) const { return blocks_[slot / Items]->slots[slot % Items]; }

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
