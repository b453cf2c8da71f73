#pragma once

namespace switchboard {

// Installs handlers for the signals of a crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) that
// write one JSON log line and the failing thread's stack to stderr, then let the signal take its
// default action, so the process still dies of it (same wait status, core dump if enabled):
//
//   {"level":"critical","event":"crash","signal":"SIGSEGV","code":1,"address":"0x10","tid":42}
//       @ 0x55d0c2a1b3c4 switchboard::store::EmbeddedStore::RunGroup()+0x54
//       ...
//
// `address` is siginfo's si_addr (the faulting address of SIGSEGV and SIGBUS), `code` its si_code
// (sigaction(2)). Frames come from glibc's backtrace(3), which unwinds through the signal frame
// and code without frame pointers with the .eh_frame unwind tables, and are named by Abseil's
// async-signal-safe symbolizer from the binary's own symbol table (demangled; "?" for an address
// it cannot name, with the module offset left to addr2line). A stack overflow is not reported:
// the handler runs on the thread's own stack. Call once, early in main, before any thread starts.
void InstallCrashReport(const char* argv0);

}  // namespace switchboard
