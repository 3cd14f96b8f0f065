#include "cli/table.h"

#include <algorithm>

namespace balloond {

std::string FormatRow(const std::vector<std::string>& cells, const std::vector<size_t>& widths) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    line += cells[i];
    if (i + 1 == cells.size()) break;
    const size_t width = i < widths.size() ? widths[i] : 0;
    line.append(width > cells[i].size() ? width - cells[i].size() : 0, ' ');
    line += "  ";
  }
  return line;
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(header_.size());
  auto widen = [&widths](const std::vector<std::string>& row) {
    if (widths.size() < row.size()) widths.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  widen(header_);
  for (const auto& row : rows_) widen(row);
  if (!header_.empty()) out << FormatRow(header_, widths) << "\n";
  for (const auto& row : rows_) out << FormatRow(row, widths) << "\n";
}

}  // namespace balloond
