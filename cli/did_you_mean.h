#ifndef BALLOOND_CLI_DID_YOU_MEAN_H_
#define BALLOOND_CLI_DID_YOU_MEAN_H_

// What an operator probably meant by a word balloonctl does not know: a command, a setting, an
// event kind.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace balloond {

// The candidates nearest to `word`, best first: those it is a typo of (a letter wrong, missing,
// extra, or two swapped, about one per three letters), then those it is the start or a part of
// ("headroom" → "headroom_bytes", "headroom_fraction"). Case, '-' and '_' do not count. At most
// `limit`; none when nothing is near.
std::vector<std::string> NearestNames(absl::string_view word,
                                      const std::vector<std::string>& candidates, size_t limit = 3);

// " Did you mean 'list'?", " Did you mean 'stats' or 'set'?", or "" when nothing is near.
std::string DidYouMean(absl::string_view word, const std::vector<std::string>& candidates);

}  // namespace balloond

#endif  // BALLOOND_CLI_DID_YOU_MEAN_H_
