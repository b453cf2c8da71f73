#pragma once

namespace switchboard {

// Installs handlers for the signals of a crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) that
// write the crash and the failing thread's stack to stderr as JSON lines in the log's own shape
// (logging.h), then let the signal take its default action, so the process still dies of it
// (same wait status, core dump if enabled):
//
//   {"time":"2026-11-30T20:51:06.786226Z","level":"critical","event":"crash","signal":"SIGSEGV",
//    "code":1,"address":"0x0","tid":24020,"version":"0.1.0+17c8f76"}
//   {"time":"...","level":"critical","event":"crash_frame","tid":24020,"frame":0,
//    "pc":"0x56135ddb221c","module":"switchboard+0x8e21c",
//    "symbol":"switchboard::app::App::Impl::Shutdown()"}
//   ... one crash_frame line per frame, outermost last
//
// - `code` is siginfo's si_code (sigaction(2)). For a fault the kernel raised (code > 0) the line
//   has `address`, the faulting address of SIGSEGV and SIGBUS (the instruction's for SIGILL and
//   SIGFPE); for a signal a process sent (kill(2), abort(3): code <= 0) it has `sender_pid`.
// - Frame 0 is the instruction that was running (from the signal's machine context); the frames
//   after it come from glibc's backtrace(3), which unwinds with the .eh_frame tables, so code
//   without frame pointers is crossed. `module` is the binary's own offset (for addr2line -e on
//   the same build, `version`), present for frames inside it. `symbol` is from Abseil's
//   async-signal-safe symbolizer, read from the ELF symbol tables (demangled; absent when no
//   table names the address, e.g. a binary stripped of .symtab).
// - One thread reports. Another thread that crashes meanwhile waits until the first one's report
//   ends the process; a crash inside the handler itself ends the process at once.
// - A stack overflow is not reported: the handler runs on the thread's own stack.
//
// `version` is copied (at most 63 characters). Call once, early in main, before any thread starts.
void InstallCrashReport(const char* argv0, const char* version);

}  // namespace switchboard
