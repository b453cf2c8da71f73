#include "router/common/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/debugging/symbolize.h"

namespace switchboard {
namespace {

constexpr int kMaxFrames = 64;

struct CrashSignal {
  int number;
  const char* name;
};
constexpr CrashSignal kCrashSignals[] = {
    {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGILL, "SIGILL"},
    {SIGFPE, "SIGFPE"},   {SIGABRT, "SIGABRT"},
};

// Async-signal-safe output: write(2) into a fixed buffer, no allocation, no locks.
class Line {
 public:
  void Text(const char* text) {
    while (*text != '\0' && used_ < sizeof(buffer_)) buffer_[used_++] = *text++;
  }
  void Decimal(int64_t value) {
    char digits[24];
    int n = 0;
    const bool negative = value < 0;
    uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
    do {
      digits[n++] = static_cast<char>('0' + magnitude % 10);
      magnitude /= 10;
    } while (magnitude != 0);
    if (negative) Text("-");
    while (n > 0 && used_ < sizeof(buffer_)) buffer_[used_++] = digits[--n];
  }
  void Hex(uintptr_t value) {
    char digits[2 * sizeof(value)];
    int n = 0;
    do {
      digits[n++] = "0123456789abcdef"[value & 0xf];
      value >>= 4;
    } while (value != 0);
    Text("0x");
    while (n > 0 && used_ < sizeof(buffer_)) buffer_[used_++] = digits[--n];
  }
  void Flush() {
    if (used_ == sizeof(buffer_)) buffer_[used_ - 1] = '\n';
    size_t written = 0;
    while (written < used_) {
      const ssize_t n = write(STDERR_FILENO, buffer_ + written, used_ - written);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    used_ = 0;
  }

 private:
  char buffer_[1024];
  size_t used_ = 0;
};

const char* SignalName(int number) {
  for (const CrashSignal& signal : kCrashSignals) {
    if (signal.number == number) return signal.name;
  }
  return "?";
}

void OnCrash(int number, siginfo_t* info, void* /*context*/) {
  const int saved_errno = errno;
  Line line;
  // The process log's own shape (logging.h), without its time: the formatter is not
  // async-signal-safe.
  line.Text("{\"level\":\"critical\",\"event\":\"crash\",\"signal\":\"");
  line.Text(SignalName(number));
  line.Text("\",\"code\":");
  line.Decimal(info->si_code);
  line.Text(",\"address\":\"");
  line.Hex(reinterpret_cast<uintptr_t>(info->si_addr));
  line.Text("\",\"tid\":");
  line.Decimal(static_cast<int64_t>(syscall(SYS_gettid)));
  line.Text("}\n");
  line.Flush();

  void* frames[kMaxFrames];
  const int depth = backtrace(frames, kMaxFrames);
  // The first frames are this handler and the kernel's signal trampoline; they are printed too,
  // since they are cheap to skip when reading and show that the unwind crossed the signal.
  for (int i = 0; i < depth; ++i) {
    const auto pc = reinterpret_cast<uintptr_t>(frames[i]);
    char symbol[512];
    line.Text("    @ ");
    line.Hex(pc);
    line.Text(" ");
    // A return address points after the call; the call itself is one byte before it (the
    // innermost frame's address is the faulting instruction, but one byte off names the same
    // function in all but a function's first byte).
    if (absl::Symbolize(reinterpret_cast<void*>(i == 0 ? pc : pc - 1), symbol, sizeof(symbol))) {
      line.Text(symbol);
    } else {
      line.Text("?");
    }
    line.Text("\n");
    line.Flush();
  }
  errno = saved_errno;
  // SA_RESETHAND restored the default action: re-raised, the signal ends the process as it would
  // have without this handler (a SIGSEGV from a faulting instruction would also come back by
  // itself when the instruction runs again, but one sent with kill(2) would not).
  raise(number);
}

}  // namespace

void InstallCrashReport(const char* argv0) {
  absl::InitializeSymbolizer(argv0);
  // backtrace(3) loads libgcc_s on its first call, which allocates: done here, not in a handler.
  void* warm[1];
  (void)backtrace(warm, 1);

  struct sigaction action {};
  action.sa_sigaction = &OnCrash;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (const CrashSignal& signal : kCrashSignals) sigaction(signal.number, &action, nullptr);
}

}  // namespace switchboard
