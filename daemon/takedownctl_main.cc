// takedownctl: the command-line client of the takedownd gRPC API.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config_loader.h"
#include "daemon/hash_command.h"
#include "daemon/preservation_command.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "proto/takedown/v1/takedown.grpc.pb.h"

namespace {

namespace v1 = takedown::v1;

constexpr char kUsage[] = R"(usage: takedownctl [--server HOST:PORT | --config FILE] [--json] COMMAND

Commands:
  sources ls                         sources with their sweep state, progress, rate and ETA
  sweep start [SOURCE...] [--wait]   start a sweep of the sources (all when none given)
  sweep status [SOURCE...] [--wait]  show sweep progress; --wait follows until sweeps end
  sweep pause [SOURCE...]            pause running sweeps (all when none given); they keep
                                     their cursor and stay paused across restarts
  sweep resume [SOURCE...] [--wait]  continue paused sweeps (all when none given)
  scan SOURCE KEY... | scan SOURCE - scan these keys now (`-`: one key per line on stdin),
                                     e.g. keys from a bucket event notification
  recheck SOURCE KEY|URL             is what was swept there still served? (gone,
                                     access_disabled, changed, still_present, error)
  lists import NAME FILE [--upload]  import a hash list (FILE is read by the daemon,
                                     or sent with --upload)
  lists ls                           list imported hash lists
  cases ls [--state STATE] [--limit N]
  cases show CASE_ID                 the case with its profile, deadline and pending timers
  cases confirm|reject CASE_ID --reason TEXT
                                     review decision (reject: the digests go to the
                                     review allowlist, so they never make a case again)
  cases transition CASE_ID STATE --reason TEXT
                                     move a case (e.g. disputed, closed)
  cases removed CASE_ID [--kind removed|access_disabled] [--reason TEXT]
                                     the content was removed or access to it disabled now
  cases recheck CASE_ID              re-check the case's content now; gone, access_disabled
                                     or changed records the removal
  orders submit FILE                 submit a removal order (JSON); prints the cases
                                     opened and the deadline
  orders execute CASE_ID             carry out orders.action on the order's object now and
                                     record the removal (feedback goes to the issuer)
  orders unable CASE_ID --kind force_majeure|manifest_error|missing_information --reason TEXT
                                     the order cannot be complied with: the reasons go to
                                     the issuing authority (Annex III) and the case is disputed
  stats compliance                   per provider: cases with a removal term, removed,
                                     on time, overdue, escalated, time to removal
  hash [--mode exact|fast] [--dihedral] [--json] FILE...
                                     digests and PDQ of local files, no daemon needed
  preservation keygen --out FILE     a new key for sealing preserved content (0600)
  preservation info SEALED           key id and context of a sealed file
  preservation decrypt --key-file FILE --out OUT|- SEALED
                                     the sealed content, authenticated, for handover;
                                     these three and hash need no daemon

The server defaults to $TAKEDOWN_SERVER, else daemon.grpc_listen of --config, else 127.0.0.1:50051.
)";

struct Options {
  std::string server;
  bool json = false;
  bool wait = false;
  bool upload = false;
  std::string state;
  uint32_t limit = 0;
  std::string reason;
  std::string kind;
  std::vector<std::string> args;
};

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "takedownctl: %s\n", status.error_message().c_str());
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ? 3 : 1;
}

nlohmann::json SweepJson(const v1::SweepProgress& p) {
  return {{"source_id", p.source_id()},
          {"sweep_id", p.sweep_id()},
          {"state", p.state()},
          {"started_at", p.started_at()},
          {"finished_at", p.finished_at()},
          {"objects_listed", p.objects_listed()},
          {"objects_done", p.objects_done()},
          {"objects_unchanged", p.objects_unchanged()},
          {"objects_skipped", p.objects_skipped()},
          {"objects_failed", p.objects_failed()},
          {"bytes_read", p.bytes_read()},
          {"matches", p.matches()},
          {"cursor", p.cursor()},
          {"error", p.error()},
          {"resumes", p.resumes()},
          {"objects_per_second", p.objects_per_second()},
          {"bytes_per_second", p.bytes_per_second()},
          {"estimated_total_objects", p.estimated_total_objects()},
          {"eta_seconds", p.eta_seconds()},
          {"eta_unknown_reason", p.eta_unknown_reason()},
          {"elapsed_seconds", p.elapsed_seconds()}};
}

// "45s", "3m20s", "2h05m", "3d04h".
std::string ShortDuration(int64_t seconds) {
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02d}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h{:02d}m", seconds / 3600, (seconds % 3600) / 60);
  return fmt::format("{}d{:02d}h", seconds / 86400, (seconds % 86400) / 3600);
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

// Objects finished so far, the rate and the ETA of a running sweep.
std::string RateLine(const v1::SweepProgress& p) {
  const uint64_t finished = p.objects_done() + p.objects_unchanged();
  std::string total = p.estimated_total_objects() > 0 ? fmt::format("/~{}", p.estimated_total_objects()) : "";
  std::string eta = p.eta_seconds() >= 0 ? "ETA " + ShortDuration(p.eta_seconds())
                                         : "ETA unknown (" + p.eta_unknown_reason() + ")";
  return fmt::format("{}{} objects, {:.1f} objects/s, {}/s, {}", finished, total, p.objects_per_second(),
                     HumanBytes(static_cast<uint64_t>(p.bytes_per_second())), eta);
}

void PrintSweeps(const google::protobuf::RepeatedPtrField<v1::SweepProgress>& sweeps, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : sweeps) out.push_back(SweepJson(p));
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("{:<16} {:<10} {:>9} {:>9} {:>9} {:>8} {:>7} {:>8} {:>11}\n", "SOURCE", "STATE",
                           "LISTED", "READ", "UNCHANGED", "SKIPPED", "FAILED", "MATCHES", "BYTES");
  for (const auto& p : sweeps) {
    std::cout << fmt::format("{:<16} {:<10} {:>9} {:>9} {:>9} {:>8} {:>7} {:>8} {:>11}\n", p.source_id(),
                             p.state(), p.objects_listed(), p.objects_done() - p.objects_failed(),
                             p.objects_unchanged(), p.objects_skipped(), p.objects_failed(), p.matches(),
                             HumanBytes(p.bytes_read()));
    if (!p.error().empty()) std::cout << "  error: " << p.error() << "\n";
    if (p.state() == "running") std::cout << "  " << RateLine(p) << "\n";
    if (p.state() == "paused") {
      std::cout << fmt::format("  paused; `takedownctl sweep resume {}` continues it\n", p.source_id());
    }
  }
}

int SweepCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() < 2 ||
      (o.args[1] != "start" && o.args[1] != "status" && o.args[1] != "pause" && o.args[1] != "resume")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::vector<std::string> sources(o.args.begin() + 2, o.args.end());
  if (o.args[1] == "pause") {
    grpc::ClientContext ctx;
    v1::PauseSweepRequest req;
    for (const auto& s : sources) req.add_source_ids(s);
    v1::PauseSweepResponse resp;
    grpc::Status st = stub.PauseSweep(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    if (resp.sweeps().empty() && !o.json) std::cout << "no sweep is running; nothing paused\n";
    PrintSweeps(resp.sweeps(), o.json);
    return 0;
  }
  if (o.args[1] == "resume") {
    grpc::ClientContext ctx;
    v1::ResumeSweepRequest req;
    for (const auto& s : sources) req.add_source_ids(s);
    v1::ResumeSweepResponse resp;
    grpc::Status st = stub.ResumeSweep(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    if (!o.wait) {
      if (resp.sweeps().empty() && !o.json) std::cout << "no sweep is paused; nothing resumed\n";
      PrintSweeps(resp.sweeps(), o.json);
      return 0;
    }
  }
  if (o.args[1] == "start") {
    grpc::ClientContext ctx;
    v1::StartSweepRequest req;
    for (const auto& s : sources) req.add_source_ids(s);
    v1::StartSweepResponse resp;
    grpc::Status st = stub.StartSweep(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    if (!o.wait) {
      PrintSweeps(resp.sweeps(), o.json);
      return 0;
    }
  }
  bool tty = isatty(STDERR_FILENO);
  while (true) {
    grpc::ClientContext ctx;
    v1::SweepStatusRequest req;
    for (const auto& s : sources) req.add_source_ids(s);
    v1::SweepStatusResponse resp;
    grpc::Status st = stub.SweepStatus(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    bool running = false;
    uint64_t done = 0, listed = 0, bytes = 0;
    std::string rates;
    for (const auto& p : resp.sweeps()) {
      running |= p.state() == "running";
      done += p.objects_done() + p.objects_unchanged() + p.objects_skipped();
      listed += p.objects_listed();
      bytes += p.bytes_read();
      if (p.state() == "running") {
        rates += fmt::format("; {}: {:.1f} objects/s{}", p.source_id(), p.objects_per_second(),
                             p.eta_seconds() >= 0 ? ", ETA " + ShortDuration(p.eta_seconds()) : "");
      }
    }
    if (!o.wait || !running) {
      if (tty && o.wait) std::fputs("\n", stderr);
      PrintSweeps(resp.sweeps(), o.json);
      for (const auto& p : resp.sweeps()) {
        if (p.state() == "failed") return 1;
      }
      return 0;
    }
    std::fprintf(stderr,
                 tty ? "\rsweeping: %llu/%llu objects done, %s read%s   "
                     : "sweeping: %llu/%llu objects done, %s read%s\n",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(listed),
                 HumanBytes(bytes).c_str(), rates.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 250 : 2000));
  }
}

int SourcesCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() != 2 || o.args[1] != "ls") {
    std::fputs(kUsage, stderr);
    return 2;
  }
  grpc::ClientContext ctx;
  v1::ListSourcesResponse resp;
  grpc::Status st = stub.ListSources(&ctx, v1::ListSourcesRequest(), &resp);
  if (!st.ok()) return Fail(st);
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : resp.sources()) {
      out.push_back({{"id", s.id()},
                     {"type", s.type()},
                     {"location", s.location()},
                     {"watch", s.watch()},
                     {"watching", s.watching()},
                     {"rescan_interval_seconds", s.rescan_interval_seconds()},
                     {"state", s.state()},
                     {"next_sweep_at", s.next_sweep_at()},
                     {"progress", SweepJson(s.progress())}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<16} {:<10} {:<10} {:<8} {:<8} {:<28} {}\n", "SOURCE", "TYPE", "STATE", "WATCH",
                           "RESCAN", "NEXT SWEEP", "LOCATION");
  for (const auto& s : resp.sources()) {
    std::string watch = s.watch() ? (s.watching() ? "yes" : "failed") : "no";
    std::string rescan = s.rescan_interval_seconds() > 0 ? ShortDuration(s.rescan_interval_seconds()) : "-";
    std::string next = s.next_sweep_at().empty() ? "-" : s.next_sweep_at();
    std::cout << fmt::format("{:<16} {:<10} {:<10} {:<8} {:<8} {:<28} {}\n", s.id(), s.type(), s.state(),
                             watch, rescan, next, s.location());
    if (s.state() == "running") std::cout << "  " << RateLine(s.progress()) << "\n";
  }
  return 0;
}

int ScanCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() < 3) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // The daemon takes at most this many keys per request.
  constexpr size_t kKeysPerRequest = 10000;
  std::vector<std::string> keys;
  for (size_t i = 2; i < o.args.size(); ++i) {
    if (o.args[i] != "-") {
      keys.push_back(o.args[i]);
      continue;
    }
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) keys.push_back(line);
    }
  }
  if (keys.empty()) {
    std::fputs("takedownctl: scan: no keys given\n", stderr);
    return 2;
  }
  nlohmann::json results = nlohmann::json::array();
  nlohmann::json scan_ids = nlohmann::json::array();
  std::map<std::string, uint64_t> outcomes;
  uint64_t matches = 0;
  for (size_t begin = 0; begin < keys.size(); begin += kKeysPerRequest) {
    v1::ScanObjectsRequest req;
    req.set_source_id(o.args[1]);
    for (size_t i = begin; i < keys.size() && i < begin + kKeysPerRequest; ++i) req.add_keys(keys[i]);
    grpc::ClientContext ctx;
    v1::ScanObjectsResponse resp;
    grpc::Status st = stub.ScanObjects(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    scan_ids.push_back(resp.scan_id());
    for (const auto& r : resp.results()) {
      outcomes[r.outcome()]++;
      matches += r.matches();
      if (o.json) {
        results.push_back({{"key", r.key()},
                           {"outcome", r.outcome()},
                           {"message", r.message()},
                           {"version", r.version()},
                           {"bytes_read", r.bytes_read()},
                           {"matches", r.matches()},
                           {"case_id", r.case_id()}});
        continue;
      }
      std::string detail;
      if (r.matches() > 0) detail = fmt::format(" ({} matches, case {})", r.matches(), r.case_id());
      if (!r.message().empty()) detail += ": " + r.message();
      std::cout << fmt::format("{:<10} {}{}\n", r.outcome(), r.key(), detail);
    }
  }
  if (o.json) {
    std::cout << nlohmann::json{{"scan_ids", scan_ids}, {"results", results}}.dump(2) << "\n";
  } else {
    std::cout << fmt::format(
        "{} keys: {} read, {} unchanged, {} skipped, {} not found, {} errors; {} matches\n", keys.size(),
        outcomes["done"], outcomes["unchanged"], outcomes["skipped"], outcomes["not_found"],
        outcomes["error"], matches);
  }
  return outcomes["not_found"] + outcomes["error"] > 0 ? 1 : 0;
}

int RecheckCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() != 3) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  v1::RecheckRequest req;
  req.set_source_id(o.args[1]);
  req.set_key(o.args[2]);
  grpc::ClientContext ctx;
  v1::RecheckResponse resp;
  grpc::Status st = stub.Recheck(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (o.json) {
    nlohmann::json hops = nlohmann::json::array();
    for (const auto& h : resp.hops())
      hops.push_back({{"url", h.url()}, {"status", h.status()}, {"ip", h.ip()}});
    std::cout << nlohmann::json{{"key", resp.key()},
                                {"outcome", resp.outcome()},
                                {"reason", resp.reason()},
                                {"checked_at", resp.checked_at()},
                                {"http_status", resp.http_status()},
                                {"final_url", resp.final_url()},
                                {"ip", resp.ip()},
                                {"fetched_at", resp.fetched_at()},
                                {"hops", hops},
                                {"md5", resp.md5()},
                                {"sha1", resp.sha1()},
                                {"sha256", resp.sha256()},
                                {"body_bytes", resp.body_bytes()},
                                {"digest_match", resp.digest_match()}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << fmt::format("object      {}:{}\noutcome     {}\nreason      {}\nchecked at  {}\n", o.args[1],
                           resp.key(), resp.outcome(), resp.reason(), resp.checked_at());
  if (!resp.fetched_at().empty()) {
    std::cout << fmt::format("http        {} from {} (final URL {}), fetched at {}\n", resp.http_status(),
                             resp.ip().empty() ? "-" : resp.ip(), resp.final_url(), resp.fetched_at());
    for (const auto& h : resp.hops()) {
      std::cout << fmt::format("  hop       {} {} {}\n", h.status(), h.ip().empty() ? "-" : h.ip(), h.url());
    }
  }
  if (!resp.sha256().empty()) {
    std::cout << fmt::format("served      {} bytes, md5 {}, sha1 {}, sha256 {}{}\n", resp.body_bytes(),
                             resp.md5(), resp.sha1(), resp.sha256(),
                             resp.digest_match() ? " (same as swept)" : "");
  }
  return 0;
}

int ListsCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() >= 2 && o.args[1] == "ls") {
    grpc::ClientContext ctx;
    v1::ListHashListsResponse resp;
    grpc::Status st = stub.ListHashLists(&ctx, v1::ListHashListsRequest(), &resp);
    if (!st.ok()) return Fail(st);
    if (o.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& l : resp.lists()) {
        out.push_back({{"name", l.name()}, {"version", l.version()}, {"entries", l.entries()},
                       {"duplicate_lines", l.duplicate_lines()}, {"imported_at", l.imported_at()},
                       {"origin", l.origin()}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << fmt::format("{:<20} {:>10} {:<14} {:<28} {}\n", "NAME", "ENTRIES", "VERSION", "IMPORTED", "ORIGIN");
    for (const auto& l : resp.lists()) {
      std::cout << fmt::format("{:<20} {:>10} {:<14} {:<28} {}\n", l.name(), l.entries(), l.version().substr(0, 12),
                               l.imported_at(), l.origin());
    }
    return 0;
  }
  if (o.args.size() == 4 && o.args[1] == "import") {
    v1::ImportHashListRequest req;
    req.set_name(o.args[2]);
    if (o.upload) {
      std::ifstream in(o.args[3], std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "takedownctl: cannot read %s\n", o.args[3].c_str());
        return 1;
      }
      std::stringstream buf;
      buf << in.rdbuf();
      req.set_content(buf.str());
    } else {
      std::error_code ec;
      std::filesystem::path abs = std::filesystem::absolute(o.args[3], ec);
      req.set_path(ec ? o.args[3] : abs.string());
    }
    grpc::ClientContext ctx;
    v1::ImportHashListResponse resp;
    grpc::Status st = stub.ImportHashList(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    if (o.json) {
      std::cout << nlohmann::json{{"name", resp.list().name()}, {"version", resp.list().version()},
                                  {"entries", resp.list().entries()}, {"retro_matches", resp.retro_matches()}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << fmt::format("imported {}: {} entries, version {}; {} new cases from objects already swept\n",
                               resp.list().name(), resp.list().entries(), resp.list().version().substr(0, 12),
                               resp.retro_matches());
    }
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

int PrintCase(const v1::CaseDetail& d, bool json);

int CasesCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() >= 2 && o.args[1] == "ls") {
    nlohmann::json out = nlohmann::json::array();
    if (!o.json) {
      std::cout << fmt::format("{:<28} {:<10} {:<10} {:<14} {}\n", "CASE", "STATE", "CATEGORY", "SOURCE", "KEY");
    }
    std::string token;
    uint32_t printed = 0;
    do {
      grpc::ClientContext ctx;
      v1::ListCasesRequest req;
      req.set_state(o.state);
      req.set_page_token(token);
      v1::ListCasesResponse resp;
      grpc::Status st = stub.ListCases(&ctx, req, &resp);
      if (!st.ok()) return Fail(st);
      for (const auto& c : resp.cases()) {
        if (o.limit && printed >= o.limit) break;
        ++printed;
        if (o.json) {
          out.push_back({{"id", c.id()}, {"state", c.state()}, {"category", c.category()},
                         {"source_id", c.source_id()}, {"key", c.key()}, {"created_at", c.created_at()}});
        } else {
          std::cout << fmt::format("{:<28} {:<10} {:<10} {:<14} {}\n", c.id(), c.state(), c.category(),
                                   c.source_id(), c.key());
        }
      }
      token = resp.next_page_token();
    } while (!token.empty() && !(o.limit && printed >= o.limit));
    if (o.json) std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (o.args.size() == 3 && o.args[1] == "show") {
    grpc::ClientContext ctx;
    v1::GetCaseRequest req;
    req.set_id(o.args[2]);
    v1::GetCaseResponse resp;
    grpc::Status st = stub.GetCase(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    return PrintCase(resp.case_detail(), o.json);
  }
  if (o.args.size() == 3 && (o.args[1] == "confirm" || o.args[1] == "reject")) {
    if (o.reason.empty()) {
      std::fprintf(stderr, "takedownctl: cases %s needs --reason TEXT (it goes into the case history)\n",
                   o.args[1].c_str());
      return 2;
    }
    grpc::ClientContext ctx;
    v1::ReviewCaseRequest req;
    req.set_id(o.args[2]);
    req.set_decision(o.args[1] == "confirm" ? v1::REVIEW_DECISION_CONFIRM : v1::REVIEW_DECISION_REJECT);
    req.set_reason(o.reason);
    v1::ReviewCaseResponse resp;
    grpc::Status st = stub.ReviewCase(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    return PrintCase(resp.case_detail(), o.json);
  }
  if (o.args.size() == 4 && o.args[1] == "transition") {
    if (o.reason.empty()) {
      std::fputs("takedownctl: cases transition needs --reason TEXT (it goes into the case history)\n", stderr);
      return 2;
    }
    grpc::ClientContext ctx;
    v1::TransitionCaseRequest req;
    req.set_id(o.args[2]);
    req.set_to_state(o.args[3]);
    req.set_reason(o.reason);
    v1::TransitionCaseResponse resp;
    grpc::Status st = stub.TransitionCase(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    return PrintCase(resp.case_detail(), o.json);
  }
  if (o.args.size() == 3 && o.args[1] == "recheck") {
    grpc::ClientContext ctx;
    v1::RecheckCaseRequest req;
    req.set_id(o.args[2]);
    v1::RecheckCaseResponse resp;
    grpc::Status st = stub.RecheckCase(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    if (o.json) {
      nlohmann::json out = {{"outcome", resp.outcome()},
                            {"reason", resp.reason()},
                            {"state", resp.case_detail().summary().state()}};
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << fmt::format("{}: {}{}\n", o.args[2], resp.outcome(),
                             resp.reason().empty() ? "" : " (" + resp.reason() + ")");
    return PrintCase(resp.case_detail(), false);
  }
  if (o.args.size() == 3 && o.args[1] == "removed") {
    grpc::ClientContext ctx;
    v1::RecordRemovalRequest req;
    req.set_id(o.args[2]);
    req.set_kind(o.kind);
    req.set_reason(o.reason);
    v1::RecordRemovalResponse resp;
    grpc::Status st = stub.RecordRemoval(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    return PrintCase(resp.case_detail(), o.json);
  }
  std::fputs(kUsage, stderr);
  return 2;
}

int OrdersCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() == 3 && o.args[1] == "execute") {
    grpc::ClientContext ctx;
    v1::ExecuteRemovalOrderRequest req;
    req.set_id(o.args[2]);
    v1::ExecuteRemovalOrderResponse resp;
    grpc::Status st = stub.ExecuteRemovalOrder(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    return PrintCase(resp.case_detail(), o.json);
  }
  if (o.args.size() == 3 && o.args[1] == "unable") {
    if (o.kind.empty() || o.reason.empty()) {
      std::fputs(
          "takedownctl: orders unable needs --kind force_majeure|manifest_error|missing_information and "
          "--reason TEXT (the explanation sent to the issuing authority)\n",
          stderr);
      return 2;
    }
    grpc::ClientContext ctx;
    v1::RecordInabilityRequest req;
    req.set_id(o.args[2]);
    req.set_reason(o.kind);
    req.set_explanation(o.reason);
    v1::RecordInabilityResponse resp;
    grpc::Status st = stub.RecordInability(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    return PrintCase(resp.case_detail(), o.json);
  }
  if (o.args.size() != 3 || o.args[1] != "submit") {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::ifstream in(o.args[2], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "takedownctl: cannot read order file %s\n", o.args[2].c_str());
    return 2;
  }
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  grpc::ClientContext ctx;
  v1::SubmitRemovalOrderRequest req;
  req.set_json(json);
  v1::SubmitRemovalOrderResponse resp;
  grpc::Status st = stub.SubmitRemovalOrder(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (o.json) {
    nlohmann::json out = {{"order_reference", resp.order_reference()},
                          {"profile", resp.profile()},
                          {"received_at", resp.received_at()},
                          {"deadline", resp.deadline()},
                          {"locations", nlohmann::json::array()}};
    for (const auto& l : resp.locations()) {
      out["locations"].push_back(
          {{"url", l.url()}, {"case_id", l.case_id()}, {"status", l.status()}, {"detail", l.detail()}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("order {} ({}) received {}, deadline {}\n", resp.order_reference(), resp.profile(),
                           resp.received_at(), resp.deadline());
  for (const auto& l : resp.locations()) {
    std::cout << fmt::format("  {} {} {}{}\n", l.case_id(), l.status(), l.url(),
                             l.detail().empty() ? "" : " (" + l.detail() + ")");
  }
  return 0;
}

int StatsCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() != 2 || o.args[1] != "compliance") {
    std::fputs(kUsage, stderr);
    return 2;
  }
  grpc::ClientContext ctx;
  v1::ComplianceStatsResponse resp;
  grpc::Status st = stub.ComplianceStats(&ctx, v1::ComplianceStatsRequest(), &resp);
  if (!st.ok()) return Fail(st);
  auto seconds = [](int64_t s) { return s < 0 ? std::string("-") : ShortDuration(s); };
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : resp.providers()) {
      out.push_back({{"provider", p.provider()},
                     {"cases", p.cases()},
                     {"removed", p.removed()},
                     {"removed_on_time", p.removed_on_time()},
                     {"overdue_open", p.overdue_open()},
                     {"escalated", p.escalated()},
                     {"decided", p.decided()},
                     {"share_within_deadline", p.share_within_deadline()},
                     {"median_seconds_to_removal", p.median_seconds_to_removal()},
                     {"p95_seconds_to_removal", p.p95_seconds_to_removal()}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<24} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9}\n", "PROVIDER", "CASES",
                           "REMOVED", "ON_TIME", "OVERDUE", "ESCALATED", "WITHIN", "MEDIAN", "P95");
  for (const auto& p : resp.providers()) {
    std::string within =
        p.share_within_deadline() < 0 ? "-" : fmt::format("{:.1f}%", 100 * p.share_within_deadline());
    std::cout << fmt::format("{:<24} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9}\n",
                             p.provider().empty() ? "(this provider)" : p.provider(), p.cases(), p.removed(),
                             p.removed_on_time(), p.overdue_open(), p.escalated(), within,
                             seconds(p.median_seconds_to_removal()), seconds(p.p95_seconds_to_removal()));
  }
  return 0;
}

int PrintCase(const v1::CaseDetail& d, bool json) {
  if (json) {
    std::cout << d.json() << "\n";
    return 0;
  }
  const v1::CaseSummary& s = d.summary();
  std::cout << fmt::format("case      {}\nstate     {}\ncategory  {}\nobject    {}:{} (version {}, {} bytes, {})\n"
                           "md5       {}\nsha1      {}\nsha256    {}\ncreated   {}\nupdated   {}\nevidence:\n",
                           s.id(), s.state(), s.category(), s.source_id(), s.key(), d.object_version(),
                           d.object_size(), d.content_type(), d.md5(), d.sha1(), d.sha256(), s.created_at(),
                           s.updated_at());
  for (const auto& e : d.evidence()) {
    std::cout << fmt::format("  {} {} in list {} (version {}) entry {} [{}] at {}\n", e.hash_type(),
                             e.digest_hex(), e.list_name(), e.list_version().substr(0, 12), e.entry_id(),
                             e.category(), e.matched_at());
  }
  if (d.history_size() > 0) std::cout << "history:\n";
  for (const auto& t : d.history()) {
    std::cout << fmt::format("  {} {} -> {} by {}: {}\n", t.at(), t.from(), t.to(), t.actor(), t.reason());
  }
  if (!d.profile().empty()) std::cout << fmt::format("profile   {}\n", d.profile());
  if (!d.deadline().empty()) std::cout << fmt::format("deadline  {}\n", d.deadline());
  if (d.timers_size() > 0) std::cout << "timers:\n";
  for (const auto& t : d.timers()) {
    std::cout << fmt::format("  {} {}{}\n", t.due(), t.kind(), t.action().empty() ? "" : " " + t.action());
  }
  // Sealed copies of the removed content (docs/preservation.md).
  const nlohmann::json stored = nlohmann::json::parse(d.json(), nullptr, false);
  if (stored.is_object() && stored.contains("terms") && stored["terms"].is_object()) {
    const nlohmann::json preserved = stored["terms"].value("preserved", nlohmann::json::array());
    if (preserved.is_array() && !preserved.empty()) std::cout << "preserved:\n";
    for (const auto& p : preserved) {
      if (!p.is_object()) continue;
      const nlohmann::json erased = p.value("erased_at", nlohmann::json());
      const nlohmann::json retain = p.value("retain_until", nlohmann::json());
      std::cout << fmt::format("  {} ({} bytes, sha256 {}, key {}) retain until {}{}\n",
                               p.value("location", ""), p.value("bytes", uint64_t{0}), p.value("sha256", ""),
                               p.value("key_id", ""), retain.is_string() ? retain.get<std::string>() : "-",
                               erased.is_string() ? ", erased " + erased.get<std::string>() : "");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Local commands (no daemon) may follow the global options, which they ignore
  // (hash takes --json).
  int first = 1;
  bool global_json = false;
  while (first < argc) {
    const std::string_view word = argv[first];
    if ((word == "--server" || word == "--config") && first + 1 < argc) {
      first += 2;
    } else if (word == "--json") {
      global_json = true;
      ++first;
    } else {
      break;
    }
  }
  if (first < argc && std::string_view(argv[first]) == "hash") {
    std::vector<std::string> words(argv + first + 1, argv + argc);
    if (global_json) words.insert(words.begin(), "--json");
    return takedown::RunHashCommand(words);
  }
  if (first < argc && std::string_view(argv[first]) == "preservation") {
    return takedown::RunPreservationCommand(std::vector<std::string>(argv + first + 1, argv + argc),
                                            std::cout, std::cerr);
  }
  Options o;
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "takedownctl: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--server") o.server = value("--server");
    else if (arg == "--config") config_path = value("--config");
    else if (arg == "--json") o.json = true;
    else if (arg == "--wait") o.wait = true;
    else if (arg == "--upload") o.upload = true;
    else if (arg == "--state") o.state = value("--state");
    else if (arg == "--reason") o.reason = value("--reason");
    else if (arg == "--kind") o.kind = value("--kind");
    else if (arg == "--limit") o.limit = static_cast<uint32_t>(std::stoul(value("--limit")));
    else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "takedownctl: unknown option %s\n%s", arg.c_str(), kUsage);
      return 2;
    } else {
      o.args.push_back(arg);
    }
  }
  if (o.args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (o.server.empty()) {
    if (const char* env = std::getenv("TAKEDOWN_SERVER"); env && *env) {
      o.server = env;
    } else if (!config_path.empty()) {
      absl::StatusOr<takedown::TakedownConfig> config = takedown::LoadConfigFile(config_path);
      if (!config.ok()) {
        std::fprintf(stderr, "takedownctl: %s\n", std::string(config.status().message()).c_str());
        return 2;
      }
      o.server = config->daemon.grpc_listen;
    } else {
      o.server = "127.0.0.1:50051";
    }
  }
  auto channel = grpc::CreateChannel(o.server, grpc::InsecureChannelCredentials());
  auto stub = v1::Takedown::NewStub(channel);
  const std::string& command = o.args[0];
  if (command == "sweep") return SweepCommand(*stub, o);
  if (command == "sources") return SourcesCommand(*stub, o);
  if (command == "scan") return ScanCommand(*stub, o);
  if (command == "recheck") return RecheckCommand(*stub, o);
  if (command == "lists") return ListsCommand(*stub, o);
  if (command == "cases") return CasesCommand(*stub, o);
  if (command == "orders") return OrdersCommand(*stub, o);
  if (command == "stats") return StatsCommand(*stub, o);
  std::fprintf(stderr, "takedownctl: unknown command '%s'\n%s", command.c_str(), kUsage);
  return 2;
}
