// SPDX-License-Identifier: Apache-2.0
// An in-memory transport for tests of the retry logic (and the shared fake clock).
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "instasent/error.hpp"
#include "instasent/http.hpp"
#include "support/fake_clock.hpp"

namespace instasent::testing {

/// Answers each request with the next scripted step: a response, or a transport failure.
class ScriptedTransport final : public Transport {
 public:
  using Step = std::function<HttpResponse(const HttpRequest&)>;

  void then(Step step) { steps_.push_back(std::move(step)); }
  void then_status(int status, std::string body = {}, Headers headers = {}) {
    then([=](const HttpRequest&) {
      HttpResponse response;
      response.status = status;
      response.body = body;
      response.headers = headers;
      return response;
    });
  }
  void then_failure(TransportFailure failure) {
    then([=](const HttpRequest&) -> HttpResponse {
      throw TransportError(failure, "instasent: scripted failure");
    });
  }

  HttpResponse send(const HttpRequest& request) override {
    Step step;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests.push_back(request);
      if (steps_.empty()) throw TransportError(TransportFailure::other, "instasent: script ended");
      step = std::move(steps_.front());
      steps_.pop_front();
    }
    return step(request);
  }

  std::vector<HttpRequest> requests;

 private:
  std::mutex mutex_;
  std::deque<Step> steps_;
};

}  // namespace instasent::testing
