#pragma once
// Status: the result of every data-path call. No exceptions on the data path.
// Retryable: the callee did not take the data, try later (backpressure, a transient failure).
// Permanent: the data is rejected for good, retrying cannot help.

#include <chrono>
#include <string>
#include <utility>

namespace vigil::component {

class Status {
 public:
  enum class Code { kOk, kRetryable, kPermanent };

  Status() = default;
  static Status ok() { return {}; }
  static Status retryable(std::string message, std::chrono::milliseconds retry_after = {}) {
    return Status(Code::kRetryable, std::move(message), retry_after);
  }
  static Status permanent(std::string message) { return Status(Code::kPermanent, std::move(message), {}); }

  bool is_ok() const { return code_ == Code::kOk; }
  bool is_retryable() const { return code_ == Code::kRetryable; }
  bool is_permanent() const { return code_ == Code::kPermanent; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // A server's hint (Retry-After, RetryInfo); zero when there is none.
  std::chrono::milliseconds retry_after() const { return retry_after_; }

 private:
  Status(Code c, std::string m, std::chrono::milliseconds ra) : code_(c), message_(std::move(m)), retry_after_(ra) {}
  Code code_ = Code::kOk;
  std::string message_;
  std::chrono::milliseconds retry_after_{0};
};

}  // namespace vigil::component
