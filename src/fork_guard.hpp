// SPDX-License-Identifier: Apache-2.0
// fork() safety: objects that hold locks or threads register here, so that fork() happens with
// their locks held by the forking thread, the parent then goes on as before, and a child gets
// objects whose locks are free and which no longer count on the parent's threads or connections.
#pragma once

namespace instasent::detail {

class ForkAware {
 public:
  virtual ~ForkAware() = default;
  /// Before fork(): take the object's locks (so no other thread holds them across the fork).
  virtual void before_fork() = 0;
  /// After fork(), in the parent: release them.
  virtual void after_fork_in_parent() = 0;
  /// After fork(), in the child: release them and let go of the parent's threads and sockets.
  virtual void after_fork_in_child() = 0;
};

/// Registers `object` until `unregister_fork_aware`; the first call installs the pthread_atfork
/// handlers. Must not be called while holding the object's own locks.
void register_fork_aware(ForkAware* object);
void unregister_fork_aware(ForkAware* object);

}  // namespace instasent::detail
