// SPDX-License-Identifier: Apache-2.0
#include "stop_signals.hpp"

#include <pthread.h>

#include <csignal>

namespace instasent::cli {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void remember_stop_signal(int signal_number) { g_stop_signal = signal_number; }

sigset_t stop_signal_set() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

int stop_signal() noexcept { return static_cast<int>(g_stop_signal); }

const char* signal_name(int signal_number) noexcept {
  return signal_number == SIGINT ? "SIGINT" : signal_number == SIGTERM ? "SIGTERM" : "a signal";
}

StopSignals::StopSignals() {
  g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = remember_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, &previous_interrupt_);
  sigaction(SIGTERM, &action, &previous_terminate_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &previous_interrupt_, nullptr);
  sigaction(SIGTERM, &previous_terminate_, nullptr);
}

StopSignalsBlocked::StopSignalsBlocked() {
  const sigset_t signals = stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &signals, &previous_);
}

StopSignalsBlocked::~StopSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

}  // namespace instasent::cli
