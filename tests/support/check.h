// A minimal test harness for the non-GUI tests: it must build on the GPU machines, which have no
// test framework installed and no network. TEST_CASE registers a case; EXPECT records a failure and
// goes on, REQUIRE stops the case. Run a binary with a substring to run only the matching cases.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace lctest {

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) {
    registry().push_back({name, std::move(fn)});
  }
};

struct RequireFailed {};
struct Skipped {
  std::string why;
};

inline int& failures() {
  static int n = 0;
  return n;
}

inline void report(const char* file, int line, const std::string& what) {
  ++failures();
  std::fprintf(stderr, "  %s:%d: FAILED: %s\n", file, line, what.c_str());
}

template <class T, class = void>
struct Streamable : std::false_type {};
template <class T>
struct Streamable<T,
                  std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

// Prints a value for a failure message: streamable types as themselves, vectors element-wise.
template <class T>
void print_value(std::ostream& os, const T& v) {
  if constexpr (Streamable<T>::value) {
    os << v;
  } else {
    os << "<unprintable>";
  }
}
template <class T>
void print_value(std::ostream& os, const std::vector<T>& v) {
  os << "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) os << ", ";
    print_value(os, v[i]);
  }
  os << "]";
}

template <class A, class B>
std::string describe(const char* ea, const char* eb, const A& a, const B& b) {
  std::ostringstream os;
  os << ea << " == " << eb << " (";
  print_value(os, a);
  os << " vs ";
  print_value(os, b);
  os << ")";
  return os.str();
}

inline int run_all(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int failed_cases = 0, ran = 0, skipped = 0;
  for (const auto& c : registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    ++ran;
    const int before = failures();
    std::fprintf(stderr, "[ RUN  ] %s\n", c.name);
    try {
      c.fn();
    } catch (const RequireFailed&) {
    } catch (const Skipped& s) {
      ++skipped;
      std::fprintf(stderr, "[ SKIP ] %s: %s\n", c.name, s.why.c_str());
      continue;
    } catch (const std::exception& e) {
      report(__FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      report(__FILE__, __LINE__, "unexpected non-standard exception");
    }
    const bool ok = failures() == before;
    if (!ok) ++failed_cases;
    std::fprintf(stderr, "[ %s ] %s\n", ok ? " OK " : "FAIL", c.name);
  }
  std::fprintf(stderr, "%d cases, %d failed, %d skipped\n", ran, failed_cases, skipped);
  if (ran == 0) {
    std::fprintf(stderr, "no test case matched\n");
    return 1;
  }
  return failed_cases == 0 ? 0 : 1;
}

}  // namespace lctest

#define LCTEST_CAT2(a, b) a##b
#define LCTEST_CAT(a, b) LCTEST_CAT2(a, b)
#define TEST_CASE(name)                                                                            \
  static void LCTEST_CAT(lctest_fn_, __LINE__)();                                                  \
  static ::lctest::Registrar LCTEST_CAT(lctest_reg_, __LINE__)(name,                               \
                                                               &LCTEST_CAT(lctest_fn_, __LINE__)); \
  static void LCTEST_CAT(lctest_fn_, __LINE__)()

#define EXPECT(cond)                                          \
  do {                                                        \
    if (!(cond)) ::lctest::report(__FILE__, __LINE__, #cond); \
  } while (0)
#define REQUIRE(cond)                              \
  do {                                             \
    if (!(cond)) {                                 \
      ::lctest::report(__FILE__, __LINE__, #cond); \
      throw ::lctest::RequireFailed{};             \
    }                                              \
  } while (0)
#define EXPECT_EQ(a, b)                                                                     \
  do {                                                                                      \
    const auto& lctest_a = (a);                                                             \
    const auto& lctest_b = (b);                                                             \
    if (!(lctest_a == lctest_b))                                                            \
      ::lctest::report(__FILE__, __LINE__, ::lctest::describe(#a, #b, lctest_a, lctest_b)); \
  } while (0)
#define EXPECT_NEAR(a, b, tol)                                                         \
  do {                                                                                 \
    const double lctest_a = (a), lctest_b = (b);                                       \
    if (!(std::fabs(lctest_a - lctest_b) <= (tol)))                                    \
      ::lctest::report(                                                                \
          __FILE__, __LINE__,                                                          \
          ::lctest::describe(#a, #b, lctest_a, lctest_b) + " beyond tolerance " #tol); \
  } while (0)
// The expression must throw an exception of type T whose what() contains `needle`.
#define EXPECT_THROWS_WITH(expr, T, needle)                                               \
  do {                                                                                    \
    bool lctest_thrown = false;                                                           \
    try {                                                                                 \
      (void)(expr);                                                                       \
    } catch (const T& e) {                                                                \
      lctest_thrown = true;                                                               \
      if (!std::strstr(e.what(), needle))                                                 \
        ::lctest::report(                                                                 \
            __FILE__, __LINE__,                                                           \
            std::string("message of " #expr " lacks \"") + (needle) + "\": " + e.what()); \
    }                                                                                     \
    if (!lctest_thrown) ::lctest::report(__FILE__, __LINE__, #expr " did not throw " #T); \
  } while (0)
#define SKIP(why)           \
  throw ::lctest::Skipped { \
    why                     \
  }

#define LCTEST_MAIN                       \
  int main(int argc, char** argv) {       \
    return ::lctest::run_all(argc, argv); \
  }
