#include "router/common/crash_report.h"

#include <execinfo.h>
#include <link.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

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

// Set once by InstallCrashReport, read by the handler.
char build_version[64] = "";
uintptr_t binary_base = 0;   // the executable's load address (dlpi_addr)
uintptr_t binary_begin = 0;  // its mapped PT_LOAD range [begin, end)
uintptr_t binary_end = 0;
// The thread writing the report (0: none yet).
std::atomic<pid_t> reporting_tid{0};

// Async-signal-safe output: write(2) from a fixed buffer, no allocation, no locks.
class Line {
 public:
  void Text(const char* text) {
    while (*text != '\0') Put(*text++);
  }
  // As a JSON string's contents: quote, backslash and control characters escaped.
  void Escaped(const char* text) {
    for (; *text != '\0'; ++text) {
      const auto c = static_cast<unsigned char>(*text);
      if (c == '"' || c == '\\') {
        Put('\\');
        Put(static_cast<char>(c));
      } else if (c < 0x20) {
        Text("\\u00");
        Put("0123456789abcdef"[c >> 4]);
        Put("0123456789abcdef"[c & 0xf]);
      } else {
        Put(static_cast<char>(c));
      }
    }
  }
  void Decimal(int64_t value, int min_digits = 1) {
    char digits[24];
    int n = 0;
    const bool negative = value < 0;
    uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
    do {
      digits[n++] = static_cast<char>('0' + magnitude % 10);
      magnitude /= 10;
    } while (magnitude != 0 || n < min_digits);
    if (negative) Put('-');
    while (n > 0) Put(digits[--n]);
  }
  void Hex(uintptr_t value) {
    char digits[2 * sizeof(value)];
    int n = 0;
    do {
      digits[n++] = "0123456789abcdef"[value & 0xf];
      value >>= 4;
    } while (value != 0);
    Text("0x");
    while (n > 0) Put(digits[--n]);
  }
  // The start of a log line, as logging.h writes it: {"time":"...Z","level":"critical"
  void Start() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    // Days since 1970-01-01 to a civil date (H. Hinnant, "chrono-Compatible Low-Level Date
    // Algorithms", days_from_civil's inverse): no locale, no time zone, no locks.
    const int64_t seconds = now.tv_sec;
    const int64_t days = seconds / 86400;
    const int64_t of_day = seconds % 86400;
    const int64_t z = days + 719468;
    const int64_t era = z / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t day = doy - (153 * mp + 2) / 5 + 1;
    const int64_t month = mp < 10 ? mp + 3 : mp - 9;
    const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    Text("{\"time\":\"");
    Decimal(year, 4);
    Put('-');
    Decimal(month, 2);
    Put('-');
    Decimal(day, 2);
    Put('T');
    Decimal(of_day / 3600, 2);
    Put(':');
    Decimal(of_day / 60 % 60, 2);
    Put(':');
    Decimal(of_day % 60, 2);
    Put('.');
    Decimal(now.tv_nsec / 1000, 6);
    Text("Z\",\"level\":\"critical\"");
  }
  // Ends the line and writes it whole (a line cut at the buffer's end still ends in "}\n").
  void Finish() {
    if (used_ > sizeof(buffer_) - 2) used_ = sizeof(buffer_) - 2;
    buffer_[used_++] = '}';
    buffer_[used_++] = '\n';
    size_t written = 0;
    while (written < used_) {
      const ssize_t n = write(STDERR_FILENO, buffer_ + written, used_ - written);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    used_ = 0;
  }

 private:
  void Put(char c) {
    if (used_ < sizeof(buffer_)) buffer_[used_++] = c;
  }

  char buffer_[1024];
  size_t used_ = 0;
};

const char* SignalName(int number) {
  for (const CrashSignal& signal : kCrashSignals) {
    if (signal.number == number) return signal.name;
  }
  return "?";
}

// The instruction the signal interrupted, from the machine context; 0 where unknown.
uintptr_t InterruptedPc(const void* context) {
  const auto* uc = static_cast<const ucontext_t*>(context);
  if (uc == nullptr) return 0;
#if defined(__x86_64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.pc);
#else
  return 0;
#endif
}

void Frame(pid_t tid, int index, uintptr_t pc, uintptr_t lookup) {
  Line line;
  line.Start();
  line.Text(",\"event\":\"crash_frame\",\"tid\":");
  line.Decimal(tid);
  line.Text(",\"frame\":");
  line.Decimal(index);
  line.Text(",\"pc\":\"");
  line.Hex(pc);
  line.Text("\"");
  if (pc >= binary_begin && pc < binary_end) {
    line.Text(",\"module\":\"switchboard+");
    line.Hex(pc - binary_base);
    line.Text("\"");
  }
  char symbol[512];
  if (absl::Symbolize(reinterpret_cast<void*>(lookup), symbol, sizeof(symbol))) {
    line.Text(",\"symbol\":\"");
    line.Escaped(symbol);
    line.Text("\"");
  }
  line.Finish();
}

void OnCrash(int number, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const auto tid = static_cast<pid_t>(syscall(SYS_gettid));
  pid_t none = 0;
  if (!reporting_tid.compare_exchange_strong(none, tid)) {
    // A crash inside this handler: no second report.
    if (none == tid) {
      signal(number, SIG_DFL);
      raise(number);
      return;
    }
    // Another thread is reporting and ends the process when it is done.
    for (;;) pause();
  }

  Line line;
  line.Start();
  line.Text(",\"event\":\"crash\",\"signal\":\"");
  line.Text(SignalName(number));
  line.Text("\",\"code\":");
  line.Decimal(info->si_code);
  if (info->si_code > 0) {  // raised by the kernel for this thread's fault
    line.Text(",\"address\":\"");
    line.Hex(reinterpret_cast<uintptr_t>(info->si_addr));
    line.Text("\"");
  } else {  // sent: si_addr shares its bytes with si_pid and si_uid
    line.Text(",\"sender_pid\":");
    line.Decimal(info->si_pid);
  }
  line.Text(",\"tid\":");
  line.Decimal(tid);
  line.Text(",\"version\":\"");
  line.Escaped(build_version);
  line.Text("\"");
  line.Finish();

  void* frames[kMaxFrames];
  const int depth = backtrace(frames, kMaxFrames);
  // backtrace(3) starts in this handler and passes glibc's signal return trampoline
  // (__restore_rt) before it reaches the interrupted code, whose address is the machine
  // context's. Those first frames are left out. Frame 0, the interrupted instruction itself, is
  // named as it is; every other address is a return address, just after its call, so it is
  // named one byte earlier (a call that ends its function would otherwise name the next one).
  const uintptr_t interrupted = InterruptedPc(context);
  int first = -1;
  for (int i = 0; i < depth && interrupted != 0; ++i) {
    if (reinterpret_cast<uintptr_t>(frames[i]) == interrupted) {
      first = i;
      break;
    }
  }
  int index = 0;
  if (first < 0) {
    // Not in the unwind (an unwinder that stopped at the signal frame, or no machine context):
    // the interrupted instruction alone first, then every frame the unwind saw.
    if (interrupted != 0) Frame(tid, index++, interrupted, interrupted);
    first = 0;
  }
  for (int i = first; i < depth; ++i) {
    const auto pc = reinterpret_cast<uintptr_t>(frames[i]);
    Frame(tid, index++, pc, pc == interrupted ? pc : pc - 1);
  }
  errno = saved_errno;
  // The default action, raised again: the process ends with this signal as it would have without
  // the handler (a fault would come back by itself when the instruction runs again; a signal
  // sent with kill(2) would not). It is blocked until this handler returns.
  signal(number, SIG_DFL);
  raise(number);
}

int FindExecutable(dl_phdr_info* info, size_t /*size*/, void* /*data*/) {
  // The first object listed is the executable (its dlpi_name is empty).
  binary_base = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    const uintptr_t begin = info->dlpi_addr + segment.p_vaddr;
    const uintptr_t end = begin + segment.p_memsz;
    if (binary_begin == 0 || begin < binary_begin) binary_begin = begin;
    if (end > binary_end) binary_end = end;
  }
  return 1;  // stop after the first
}

}  // namespace

void InstallCrashReport(const char* argv0, const char* version) {
  size_t n = 0;
  for (; version != nullptr && version[n] != '\0' && n + 1 < sizeof(build_version); ++n) {
    build_version[n] = version[n];
  }
  build_version[n] = '\0';
  dl_iterate_phdr(&FindExecutable, nullptr);
  absl::InitializeSymbolizer(argv0);
  // The first backtrace(3) loads libgcc_s and the first Symbolize opens and maps the binary;
  // both allocate, so they are done here rather than first in a handler (out of memory or of
  // descriptors, they could not).
  void* warm[2];
  const int depth = backtrace(warm, 2);
  char symbol[64];
  if (depth > 0) (void)absl::Symbolize(warm[0], symbol, sizeof(symbol));

  struct sigaction action {};
  action.sa_sigaction = &OnCrash;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  for (const CrashSignal& crash : kCrashSignals) sigaction(crash.number, &action, nullptr);
}

}  // namespace switchboard
