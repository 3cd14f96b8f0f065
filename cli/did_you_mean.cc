#include "cli/did_you_mean.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace balloond {
namespace {

std::string Normal(absl::string_view word) {
  std::string out = absl::AsciiStrToLower(word);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

// Edits from a to b: letters changed, added, dropped, or two neighbours swapped ("lsit").
size_t Distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t change = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + change});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::vector<std::string> NearestNames(absl::string_view word,
                                      const std::vector<std::string>& candidates, size_t limit) {
  const std::string w = Normal(word);
  if (w.empty()) return {};
  const size_t allowed = std::max<size_t>(1, w.size() / 3);
  // (kind of match, edits, position among the candidates): typos first, then parts.
  std::vector<std::tuple<int, size_t, size_t>> near;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string c = Normal(candidates[i]);
    if (const size_t edits = Distance(w, c); edits <= allowed) {
      near.emplace_back(0, edits, i);
    } else if (w.size() >= 3 && absl::StrContains(c, w)) {
      near.emplace_back(absl::StartsWith(c, w) ? 1 : 2, 0, i);
    }
  }
  std::sort(near.begin(), near.end());
  std::vector<std::string> out;
  for (const auto& [kind, edits, i] : near) {
    if (out.size() == limit) break;
    out.push_back(candidates[i]);
  }
  return out;
}

std::string DidYouMean(absl::string_view word, const std::vector<std::string>& candidates) {
  std::vector<std::string> near = NearestNames(word, candidates);
  if (near.empty()) return "";
  for (std::string& n : near) n = absl::StrCat("'", n, "'");
  const std::string last = near.back();
  near.pop_back();
  return absl::StrCat(" Did you mean ", near.empty() ? "" : absl::StrJoin(near, ", "),
                      near.empty() ? "" : " or ", last, "?");
}

}  // namespace balloond
