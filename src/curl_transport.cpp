// SPDX-License-Identifier: Apache-2.0
#include "instasent/curl_transport.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

#include "fork_guard.hpp"
#include "instasent/error.hpp"
#include "instasent/version.hpp"
#include "proxy.hpp"
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
    case CURLE_SSL_CIPHER:
      return TransportFailure::tls;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return TransportFailure::certificate;
    case CURLE_SEND_ERROR:
      return TransportFailure::send;
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return TransportFailure::receive;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportFailure::protocol;
    case CURLE_FILESIZE_EXCEEDED:
      return TransportFailure::too_large;
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
    case TransportFailure::certificate:
      return "the server's certificate failed verification";
    case TransportFailure::timeout:
      return "timed out";
    case TransportFailure::send:
      return "sending failed";
    case TransportFailure::receive:
      return "receiving failed";
    case TransportFailure::protocol:
      return "the answer is not valid HTTP";
    case TransportFailure::too_large:
      return "the answer is too large";
    case TransportFailure::other:
      break;
  }
  return "transfer failed";
}

// One exchange's answer as it arrives, with the bounds it must stay within. The callbacks never
// throw through libcurl: they stop the transfer and leave the reason here.
struct Exchange {
  HttpResponse response;
  std::size_t max_body_bytes = 0;
  std::size_t header_bytes = 0;
  std::optional<TransportFailure> stopped;  // why a callback stopped the transfer
  const char* stop_reason = nullptr;
};

// Returning a count other than the one given makes libcurl stop with CURLE_WRITE_ERROR.
constexpr std::size_t kStop = 0;

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  if (bytes > exchange.max_body_bytes - exchange.response.body.size()) {
    exchange.stopped = TransportFailure::too_large;
    exchange.stop_reason = "the answer's body exceeds max_response_bytes";
    return kStop;
  }
  try {
    exchange.response.body.append(data, bytes);
  } catch (const std::bad_alloc&) {
    exchange.stopped = TransportFailure::other;
    exchange.stop_reason = "out of memory while receiving the answer";
    return kStop;
  }
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  auto& response = exchange.response;
  const std::size_t bytes = size * count;
  exchange.header_bytes += bytes;
  if (exchange.header_bytes > kMaxResponseHeaderBytes) {
    exchange.stopped = TransportFailure::too_large;
    exchange.stop_reason = "the answer's header fields exceed 256 KiB";
    return kStop;
  }
  const std::string_view line(data, bytes);
  try {
    if (line.rfind("HTTP/", 0) == 0) {
      response.headers = Headers();  // a new status line (after 100 Continue): start over
    } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
      response.headers.add(std::string(detail::trim(line.substr(0, colon))),
                           std::string(detail::trim(line.substr(colon + 1))));
    }
  } catch (const std::bad_alloc&) {
    exchange.stopped = TransportFailure::other;
    exchange.stop_reason = "out of memory while receiving the answer";
    return kStop;
  }
  return bytes;
}

// curl_easy_setopt, checked: an option libcurl refuses is a broken transport, not a quiet default.
template <typename Value>
void set_option(CURL* handle, CURLoption option, Value value) {
  const CURLcode code = curl_easy_setopt(handle, option, value);
  if (code != CURLE_OK) {
    throw TransportError(
        TransportFailure::other,
        std::string("instasent: libcurl refused an option (") + curl_easy_strerror(code) + ")");
  }
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

// An easy handle, cleaned up when its holder goes.
struct CurlCleanup {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
using CurlHandle = std::unique_ptr<CURL, CurlCleanup>;

class CurlTransport final : public Transport, private detail::ForkAware {
 public:
  explicit CurlTransport(const CurlTransportOptions& options)
      : options_(options),
        proxy_(options.proxy),
        user_agent_(std::string("instasent-cpp/") + kVersion +
                    (options.user_agent_suffix.empty() ? "" : " " + options.user_agent_suffix)) {
    initialise_curl_once();
    detail::register_fork_aware(this);
  }

  ~CurlTransport() override { detail::unregister_fork_aware(this); }

  HttpResponse send(const HttpRequest& request) override {
    try {
      return perform(request);
    } catch (const TransportError&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw TransportError(TransportFailure::other, "instasent: out of memory");
    }
  }

 private:
  HttpResponse perform(const HttpRequest& request) {
    Lease lease(*this);
    CURL* handle = lease.handle.get();
    Exchange exchange;
    exchange.max_body_bytes = options_.max_response_bytes;
    CurlHeaderList headers;
    for (const auto& [name, value] : request.headers.entries()) {
      std::string line = name;
      line.append(": ").append(value);
      headers.add(line);
    }
    headers.add("Expect:");  // no 100-continue round trip before large bodies
    // In place of libcurl's own header (see compressed_answers); what comes gzipped is decoded.
    if (!options_.compressed_answers) headers.add("Accept-Encoding: identity");

    set_option(handle, CURLOPT_URL, request.url.c_str());
    // Set for every request ("" is none), so that libcurl's reading of the environment never
    // decides: a plain-http request never goes through a proxy, which would read the token.
    const std::string* proxy = proxy_.proxy_for(request.url);
    set_option(handle, CURLOPT_PROXY, proxy != nullptr ? proxy->c_str() : "");
    set_option(handle, CURLOPT_HTTPHEADER, headers.get());
    set_option(handle, CURLOPT_WRITEDATA, &exchange);
    set_option(handle, CURLOPT_HEADERDATA, &exchange);
    set_option(handle, CURLOPT_CUSTOMREQUEST, nullptr);
    if (request.method == "POST" || !request.body.empty()) {
      set_option(handle, CURLOPT_POST, 1L);
      set_option(handle, CURLOPT_POSTFIELDS, request.body.data());
      set_option(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    } else {
      set_option(handle, CURLOPT_HTTPGET, 1L);
    }
    if (request.method != "GET" && request.method != "POST") {
      set_option(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    const CURLcode code = curl_easy_perform(handle);
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    if (exchange.stopped) fail(*exchange.stopped, exchange.stop_reason, proxy);
    if (code != CURLE_OK) fail(classify(code), curl_easy_strerror(code), proxy);
    exchange.response.status = static_cast<int>(status);
    return std::move(exchange.response);
  }

  // A failed exchange; one that went through a proxy names it (without its credentials).
  [[noreturn]] void fail(TransportFailure failure, const char* detail,
                         const std::string* proxy) const {
    std::string message = std::string("instasent: ") + failure_name(failure) + " (" + detail;
    if (proxy != nullptr) message += "; through the proxy " + proxy_.shown();
    throw TransportError(failure, message + ")");
  }

  void before_fork() override { mutex_.lock(); }
  void after_fork_in_parent() override { mutex_.unlock(); }
  void after_fork_in_child() override {
    // The pooled connections are the parent's sockets: a child must not talk over them, nor
    // close them in a way the server would see. They are let go without cleanup (which could
    // write to them); the child opens its own.
    for (CurlHandle& handle : idle_) static_cast<void>(handle.release());
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
      curl_easy_setopt(handle.get(), CURLOPT_HTTPHEADER, nullptr);
      curl_easy_setopt(handle.get(), CURLOPT_POSTFIELDS, nullptr);
      curl_easy_setopt(handle.get(), CURLOPT_WRITEDATA, nullptr);
      curl_easy_setopt(handle.get(), CURLOPT_HEADERDATA, nullptr);
      owner.release(std::move(handle));
    }
    CurlTransport& owner;
    CurlHandle handle;
  };

  CurlHandle acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        CurlHandle handle = std::move(idle_.back());
        idle_.pop_back();
        return handle;
      }
    }
    CurlHandle handle(curl_easy_init());
    if (!handle) {
      throw TransportError(TransportFailure::other, "instasent: could not create a libcurl handle");
    }
    configure(handle.get());
    return handle;
  }

  void release(CurlHandle handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(handle));
  }

  void configure(CURL* handle) const {
    set_option(handle, CURLOPT_NOSIGNAL, 1L);
    set_option(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    set_option(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set_option(handle, CURLOPT_FOLLOWLOCATION, 0L);
    set_option(handle, CURLOPT_NOPROXY, "");  // the proxy of each request is decided here
    // gzip only: brotli at the server's default quality costs it far more than it saves here.
    // Also what libcurl decodes; without compressed_answers, each request's own header asks for
    // none.
    set_option(handle, CURLOPT_ACCEPT_ENCODING, "gzip");
    set_option(handle, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    set_option(handle, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty()) set_option(handle, CURLOPT_CAINFO, options_.ca_file.c_str());
    set_option(handle, CURLOPT_CONNECTTIMEOUT_MS,
               static_cast<long>(options_.connect_timeout.count()));
    set_option(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
    // An announced size over the limit fails before the body comes; on_body counts the rest
    // (chunked and compressed answers), after decompression.
    set_option(handle, CURLOPT_MAXFILESIZE_LARGE,
               static_cast<curl_off_t>(options_.max_response_bytes));
    if (options_.low_speed_bytes > 0) {
      set_option(handle, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.low_speed_bytes));
      set_option(handle, CURLOPT_LOW_SPEED_TIME,
                 static_cast<long>(options_.low_speed_time.count()));
    }
    set_option(handle, CURLOPT_USERAGENT, user_agent_.c_str());
    set_option(handle, CURLOPT_TCP_KEEPALIVE, 1L);
    set_option(handle, CURLOPT_TCP_NODELAY, 1L);
    set_option(handle, CURLOPT_WRITEFUNCTION, on_body);
    set_option(handle, CURLOPT_HEADERFUNCTION, on_header);
  }

  const CurlTransportOptions options_;
  const detail::ProxyRoute proxy_;
  const std::string user_agent_;
  std::mutex mutex_;
  std::vector<CurlHandle> idle_;
};

}  // namespace

std::shared_ptr<Transport> make_curl_transport(const CurlTransportOptions& options) {
  return std::make_shared<CurlTransport>(options);
}

}  // namespace instasent
