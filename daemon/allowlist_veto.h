// ApplyAllowlistVeto: the one rule by which allowlists (known false
// positives, daemon/list_policy.h) veto matches, used alike by the sweep
// (ObjectMatcher::MatchAndStore) and by retro-match
// (HashListManager::RetroMatch):
//
//   an object with an allowlist hit, exact (one of its digests is on an
//   allowlist) or PDQ (PdqMatcher reported a veto), has every match vetoed:
//   its exact blocklist matches and its PDQ matches alike.
//
// An allowlist hit on an object without any match vetoes nothing. Vetoed
// matches are returned, not dropped, so that callers can count and audit
// them. A pure function of its arguments; thread-safe.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "daemon/list_policy.h"
#include "matcher/exact_index.h"
#include "matcher/pdq_matcher.h"

namespace takedown {

struct AllowlistVerdict {
  // The matches that stand (none when the object is allowlisted).
  std::vector<ExactMatch> matches;
  std::vector<PdqListMatch> pdq_matches;
  // Why the object is allowlisted: its digests found on allowlists, and the
  // PDQ matches an allowlist entry vetoed (as PdqMatcher reported them).
  std::vector<ExactMatch> allowlist_hits;
  std::vector<PdqVeto> pdq_vetoes;
  // Further matches vetoed: exact blocklist matches, and PDQ matches that an
  // exact allowlist hit vetoed.
  std::vector<ExactMatch> vetoed_matches;
  std::vector<PdqListMatch> vetoed_pdq_matches;

  bool allowlisted() const { return !allowlist_hits.empty() || !pdq_vetoes.empty(); }
  // Every match vetoed: the record's vetoed_matches.
  size_t vetoed_count() const {
    return vetoed_matches.size() + vetoed_pdq_matches.size() + pdq_vetoes.size();
  }
};

// `exact`: everything ExactIndex::Lookup() found for the object, blocklists
// and allowlists mixed (told apart by `policies`); `pdq`: what PdqMatcher
// found (empty when the object has no PDQ hash). Order is kept within each
// output list.
inline AllowlistVerdict ApplyAllowlistVeto(std::vector<ExactMatch> exact, PdqMatchResult pdq,
                                           const ListPolicies& policies) {
  AllowlistVerdict v;
  for (ExactMatch& m : exact) {
    (policies.IsAllowlist(m.entry.list_name) ? v.allowlist_hits : v.matches).push_back(std::move(m));
  }
  v.pdq_matches = std::move(pdq.matches);
  v.pdq_vetoes = std::move(pdq.vetoes);
  if (v.allowlisted()) {
    v.vetoed_matches = std::exchange(v.matches, {});
    v.vetoed_pdq_matches = std::exchange(v.pdq_matches, {});
  }
  return v;
}

}  // namespace takedown
