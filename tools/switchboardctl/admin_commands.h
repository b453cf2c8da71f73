// The operator subcommands of switchboardctl over switchboard.v1.AdminService
// (proto/switchboard/v1/admin.proto); conventions in admin_client.h.
//
//   rules get [-o yaml|json]                 the rules document in use, its version and origin
//   rules apply -f FILE [--dry-run]          GetRules, then ApplyRules(expected_version = that
//                                            version): prints the unified diff; a concurrent change
//                                            is refused (FAILED_PRECONDITION), never overwritten
//   rules delete NAME                        DeleteRule; prints the diff
//   rules explain -f event.json              ExplainRoute of a normalized event (protobuf JSON, e.g.
//                | --source NAME --fixture FILE   a line of `tail -o json`) or of a raw provider
//                                            payload decoded by the source's provider (unverified)
//   agents                                   ListAgents
//   dlq list|replay|purge AGENT [--id ID]... dead letters
//   replay --since 2h [--until T] [--type bounced]... [--unmatched] --to AGENT
//                                            ReplayArchive
//   tail [--type T]... [--unmatched] [-o json]   Tail: events as this router commits them
//   quarantine list [--source S] [--limit N]  ListQuarantine (no bodies)
//   quarantine replay [--source S] [ID...]    ReplayQuarantine: decoded / still failing (kept)
//   quarantine purge --source S [ID...]       PurgeQuarantine
//   purge --recipient ADDR                    PurgeRecipient: erase one person's events
//   backup PATH                               Backup: the embedded store, to PATH on the router's
//                                            host (Redis: FAILED_PRECONDITION)
//   attachment get EVENT_ID SHA256 [-o FILE]  GetAttachment: bytes kept out of line (a stored
//                                            attachment, the raw body by raw_sha256, the text or
//                                            html body by text_sha256 / html_sha256), checked
//                                            against SHA256; to FILE or stdout
//
// Each Add* registers its subcommands on `app`; when one of them is parsed, its final callback
// runs it and stores the process exit status in *exit_status (0 ok, 1 error), which stays
// untouched otherwise. `flags` is shared by every admin subcommand (only one is parsed).
#pragma once

#include <CLI/CLI.hpp>

#include "tools/switchboardctl/admin_client.h"

namespace switchboard::ctl {

void AddRulesCommands(CLI::App& app, AdminFlags* flags, int* exit_status);  // rules_cmd.cc
void AddQueueCommands(CLI::App& app, AdminFlags* flags, int* exit_status);  // queue_cmd.cc
void AddLifecycleCommands(CLI::App& app, AdminFlags* flags,
                          int* exit_status);  // lifecycle_cmd.cc
void AddAttachmentCommands(CLI::App& app, AdminFlags* flags,
                           int* exit_status);  // attachment_cmd.cc

}  // namespace switchboard::ctl
