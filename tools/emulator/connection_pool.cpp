// SPDX-License-Identifier: Apache-2.0
#include "connection_pool.hpp"

#include <memory>
#include <system_error>
#include <utility>

namespace instasent::emulator {

ConnectionPool::ConnectionPool(std::size_t max_connections)
    : max_connections_(max_connections == 0 ? 1 : max_connections) {}

ConnectionPool::~ConnectionPool() { shutdown(); }

void ConnectionPool::enqueue(std::function<void()> connection) {
  // Shared, so that the task survives a thread that cannot be started: it owns the socket.
  auto task = std::make_shared<std::function<void()>>(std::move(connection));
  std::vector<std::thread> ended;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    task_ended_.wait(lock, [this] { return running_.size() < max_connections_; });
    for (std::thread& thread : ended_) ended.push_back(std::move(thread));
    ended_.clear();
    try {
      // Started under the lock, so that finish() finds the thread in `running_`.
      std::thread thread([this, task] {
        (*task)();
        finish();
      });
      const std::thread::id id = thread.get_id();
      running_.emplace(id, std::move(thread));
      break;
    } catch (const std::system_error&) {
      // Out of threads: wait for a running task to end, or serve this one here if none runs.
      if (running_.empty()) {
        lock.unlock();
        join(ended);
        (*task)();
        return;
      }
      const std::size_t before = running_.size();
      task_ended_.wait(lock, [this, before] { return running_.size() < before; });
    }
  }
  lock.unlock();
  join(ended);
}

void ConnectionPool::shutdown() {
  std::vector<std::thread> ended;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    task_ended_.wait(lock, [this] { return running_.empty(); });
    ended.swap(ended_);
  }
  join(ended);
}

void ConnectionPool::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = running_.find(std::this_thread::get_id());
  ended_.push_back(std::move(it->second));
  running_.erase(it);
  task_ended_.notify_all();
}

void ConnectionPool::join(std::vector<std::thread>& threads) {
  for (std::thread& thread : threads) thread.join();
  threads.clear();
}

}  // namespace instasent::emulator
