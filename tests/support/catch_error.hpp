// SPDX-License-Identifier: Apache-2.0
// Catching the instasent::Error a call is expected to throw, for tests that go on checking it.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <optional>
#include <typeinfo>

#include "instasent/error.hpp"

namespace instasent::testing {

/// Runs `f` and expects it to throw an `E` (a subclass of instasent::Error): returns a copy of it.
/// Records a failure and returns nullopt when `f` throws anything else or nothing. `inspect` sees
/// every instasent::Error `f` throws, an `E` or not.
template <typename E, typename F, typename Inspect>
std::optional<E> CatchAs(F&& f, Inspect&& inspect) {
  try {
    f();
    ADD_FAILURE() << "expected " << typeid(E).name() << ", nothing was thrown";
  } catch (const E& e) {
    inspect(e);
    return e;
  } catch (const Error& e) {
    inspect(e);
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got " << typeid(e).name()
                  << " kind=" << to_string(e.kind()) << " status=" << e.http_status() << ": "
                  << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got std::exception " << typeid(e).name()
                  << ": " << e.what();
  }
  return std::nullopt;
}

}  // namespace instasent::testing
