// SPDX-License-Identifier: Apache-2.0
#include "fork_guard.hpp"

#include <pthread.h>

#include <mutex>
#include <vector>

namespace instasent::detail {

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<ForkAware*> objects;
};

// Never destroyed: fork() may come during static destruction.
Registry& registry() {
  static Registry* const instance = new Registry();
  return *instance;
}

void prepare() {
  Registry& r = registry();
  r.mutex.lock();  // held across fork(); released by the handlers below
  for (ForkAware* object : r.objects) object->before_fork();
}

void in_parent() {
  Registry& r = registry();
  for (ForkAware* object : r.objects) object->after_fork_in_parent();
  r.mutex.unlock();
}

void in_child() {
  Registry& r = registry();
  for (ForkAware* object : r.objects) object->after_fork_in_child();
  r.mutex.unlock();
}

}  // namespace

void register_fork_aware(ForkAware* object) {
  static std::once_flag installed;
  std::call_once(installed, [] { pthread_atfork(prepare, in_parent, in_child); });
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.objects.push_back(object);
}

void unregister_fork_aware(ForkAware* object) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (auto it = r.objects.begin(); it != r.objects.end(); ++it) {
    if (*it == object) {
      r.objects.erase(it);
      return;
    }
  }
}

}  // namespace instasent::detail
