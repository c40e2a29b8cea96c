// Error reporting for tokrl.
//
// Every user-facing failure (bad config, unknown env, corrupt file) is a
// tokrl::Error carrying a message that names the problem. The CLI catches it
// at the top level, prints "error: <message>" and exits with a non-zero code.
//
// TOKRL_CHECK(cond) << "context";      throws tokrl::Error when cond is false.
// TOKRL_CHECK_EQ(a, b) etc.            also print both operands.
// TOKRL_DCHECK*                        compiled out when NDEBUG is defined.
#ifndef TOKRL_CORE_CHECK_H_
#define TOKRL_CORE_CHECK_H_

#include <sstream>
#include <stdexcept>
#include <string>

namespace tokrl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace internal {

// Collects a message with operator<< and throws it as tokrl::Error when the
// full expression ends (in the destructor, hence noexcept(false)).
class CheckFailure {
 public:
  // A failed check names the condition and the source location (a bug to
  // report); TOKRL_FAIL passes expr == nullptr: its message is for users and
  // stands alone.
  CheckFailure(const char* file, int line, const char* expr) {
    if (expr != nullptr) stream_ << expr << " (" << file << ":" << line << ") ";
  }
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure() noexcept(false) { throw Error(stream_.str()); }
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Evaluates `op(a, b)` once; on failure returns "[a vs b] ", else "".
template <typename A, typename B, typename Op>
std::string CheckOp(const A& a, const B& b, Op op) {
  if (op(a, b)) return std::string();
  std::ostringstream out;
  out << "[" << a << " vs " << b << "] ";
  return out.str();
}

}  // namespace internal
}  // namespace tokrl

#define TOKRL_CHECK(cond)              \
  if (__builtin_expect(!!(cond), 1)) { \
  } else /* NOLINT */                  \
    ::tokrl::internal::CheckFailure(__FILE__, __LINE__, "check failed: " #cond)

// Each operand is evaluated exactly once.
#define TOKRL_CHECK_OP_(a, b, op)                                           \
  if (const std::string tokrl_check_operands_ = ::tokrl::internal::CheckOp( \
          (a), (b), [](const auto& x, const auto& y) { return x op y; });   \
      tokrl_check_operands_.empty()) {                                      \
  } else /* NOLINT */                                                       \
    ::tokrl::internal::CheckFailure(__FILE__, __LINE__,                     \
                                    "check failed: " #a " " #op " " #b)     \
        << tokrl_check_operands_

#define TOKRL_CHECK_EQ(a, b) TOKRL_CHECK_OP_(a, b, ==)
#define TOKRL_CHECK_NE(a, b) TOKRL_CHECK_OP_(a, b, !=)
#define TOKRL_CHECK_LT(a, b) TOKRL_CHECK_OP_(a, b, <)
#define TOKRL_CHECK_LE(a, b) TOKRL_CHECK_OP_(a, b, <=)
#define TOKRL_CHECK_GT(a, b) TOKRL_CHECK_OP_(a, b, >)
#define TOKRL_CHECK_GE(a, b) TOKRL_CHECK_OP_(a, b, >=)

#ifdef NDEBUG
#define TOKRL_DCHECK(cond) \
  while (false) TOKRL_CHECK(cond)
#define TOKRL_DCHECK_LT(a, b) \
  while (false) TOKRL_CHECK_LT(a, b)
#else
#define TOKRL_DCHECK(cond) TOKRL_CHECK(cond)
#define TOKRL_DCHECK_LT(a, b) TOKRL_CHECK_LT(a, b)
#endif

// Throws tokrl::Error whose message is exactly the stream operands (no
// source location: these are user-facing), e.g.
//   TOKRL_FAIL() << "unknown env '" << id << "'";
#define TOKRL_FAIL() ::tokrl::internal::CheckFailure(__FILE__, __LINE__, nullptr)

#endif  // TOKRL_CORE_CHECK_H_
