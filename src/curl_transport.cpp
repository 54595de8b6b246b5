// SPDX-License-Identifier: Apache-2.0
#include "instasent/curl_transport.hpp"

#include <curl/curl.h>

#include <mutex>
#include <vector>

#include "fork_guard.hpp"
#include "instasent/error.hpp"
#include "instasent/version.hpp"
#include "strings.hpp"

namespace instasent {

namespace {

void initialise_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw TransportError(TransportFailure::other, "instasent: libcurl could not be initialised");
    }
  });
}

TransportFailure classify(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return TransportFailure::resolve;
    case CURLE_COULDNT_CONNECT:
      return TransportFailure::connect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportFailure::timeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return TransportFailure::tls;
    case CURLE_SEND_ERROR:
      return TransportFailure::send;
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
      return TransportFailure::receive;
    default:
      return TransportFailure::other;
  }
}

const char* failure_name(TransportFailure failure) {
  switch (failure) {
    case TransportFailure::resolve:
      return "name resolution failed";
    case TransportFailure::connect:
      return "could not connect";
    case TransportFailure::tls:
      return "TLS failure";
    case TransportFailure::timeout:
      return "timed out";
    case TransportFailure::send:
      return "sending failed";
    case TransportFailure::receive:
      return "receiving failed";
    case TransportFailure::other:
      break;
  }
  return "transfer failed";
}

struct Exchange {
  HttpResponse response;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<Exchange*>(user)->response.body.append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& response = static_cast<Exchange*>(user)->response;
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    response.headers = Headers();  // a new status line (after 100 Continue): start over
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    response.headers.add(std::string(detail::trim(line.substr(0, colon))),
                         std::string(detail::trim(line.substr(colon + 1))));
  }
  return size * count;
}

class CurlHeaderList {
 public:
  CurlHeaderList() = default;
  CurlHeaderList(const CurlHeaderList&) = delete;
  CurlHeaderList& operator=(const CurlHeaderList&) = delete;
  ~CurlHeaderList() { curl_slist_free_all(list_); }
  void add(const std::string& line) {
    curl_slist* grown = curl_slist_append(list_, line.c_str());
    if (grown == nullptr) throw TransportError(TransportFailure::other, "instasent: out of memory");
    list_ = grown;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

class CurlTransport final : public Transport, private detail::ForkAware {
 public:
  explicit CurlTransport(const CurlTransportOptions& options)
      : options_(options),
        user_agent_(std::string("instasent-cpp/") + kVersion +
                    (options.user_agent_suffix.empty() ? "" : " " + options.user_agent_suffix)) {
    initialise_curl_once();
    detail::register_fork_aware(this);
  }

  ~CurlTransport() override {
    detail::unregister_fork_aware(this);
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
  }

  HttpResponse send(const HttpRequest& request) override {
    Lease lease(*this);
    CURL* handle = lease.handle;
    Exchange exchange;
    CurlHeaderList headers;
    for (const auto& [name, value] : request.headers.entries()) {
      std::string line = name;
      line.append(": ").append(value);
      headers.add(line);
    }
    headers.add("Expect:");  // no 100-continue round trip before large bodies

    curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &exchange);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &exchange);
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, nullptr);
    if (request.method == "POST" || !request.body.empty()) {
      curl_easy_setopt(handle, CURLOPT_POST, 1L);
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    } else {
      curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    }
    if (request.method != "GET" && request.method != "POST") {
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    const CURLcode code = curl_easy_perform(handle);
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK) {
      const TransportFailure failure = classify(code);
      throw TransportError(failure, std::string("instasent: ") + failure_name(failure) + " (" +
                                        curl_easy_strerror(code) + ")");
    }
    exchange.response.status = static_cast<int>(status);
    return std::move(exchange.response);
  }

 private:
  void before_fork() override { mutex_.lock(); }
  void after_fork_in_parent() override { mutex_.unlock(); }
  void after_fork_in_child() override {
    // The pooled connections are the parent's sockets: a child must not talk over them, nor
    // close them in a way the server would see. They are left alone; the child opens its own.
    idle_.clear();
    mutex_.unlock();
  }

  // A pooled handle for one exchange; it goes back to the pool however the exchange ends, without
  // pointers into that exchange's objects.
  struct Lease {
    explicit Lease(CurlTransport& owner) : owner(owner), handle(owner.acquire()) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, nullptr);
      curl_easy_setopt(handle, CURLOPT_WRITEDATA, nullptr);
      curl_easy_setopt(handle, CURLOPT_HEADERDATA, nullptr);
      owner.release(handle);
    }
    CurlTransport& owner;
    CURL* handle;
  };

  CURL* acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        CURL* handle = idle_.back();
        idle_.pop_back();
        return handle;
      }
    }
    CURL* handle = curl_easy_init();
    if (handle == nullptr) {
      throw TransportError(TransportFailure::other, "instasent: could not create a libcurl handle");
    }
    configure(handle);
    return handle;
  }

  void release(CURL* handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(handle);
  }

  void configure(CURL* handle) const {
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
    // gzip only: brotli at the server's default quality costs it far more than it saves here.
    curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty())
      curl_easy_setopt(handle, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(options_.request_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_USERAGENT, user_agent_.c_str());
    curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(handle, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
  }

  const CurlTransportOptions options_;
  const std::string user_agent_;
  std::mutex mutex_;
  std::vector<CURL*> idle_;
};

}  // namespace

std::shared_ptr<Transport> make_curl_transport(const CurlTransportOptions& options) {
  return std::make_shared<CurlTransport>(options);
}

}  // namespace instasent
