#pragma once

namespace switchboard {

// Makes spdlog's default logger write one JSON object per line to stderr:
//   {"time":"2026-11-29T17:20:37.123456Z","level":"info", <fields>}
// A message that is itself a JSON object (e.g. boost::json::serialize of the fields) has its fields
// spliced in; any other message becomes "msg":"<escaped text>". Secrets are never passed to logs
// by the callers; this only shapes the line. Call once at startup, before other threads log.
// A crash's lines (crash_report.h) have the same shape but are written by its signal handler,
// not through spdlog.
void InitJsonLogging();

}  // namespace switchboard
