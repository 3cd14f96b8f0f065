#ifndef BALLOOND_CLI_TABLE_H_
#define BALLOOND_CLI_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace balloond {

// Columns padded to their widest cell, like `virsh list`. With no header, rows are "key  value"
// pairs, as in `virsh dominfo`.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// One line of cells, each padded to its width: for tables printed a row at a time (watches).
std::string FormatRow(const std::vector<std::string>& cells, const std::vector<size_t>& widths);

}  // namespace balloond

#endif  // BALLOOND_CLI_TABLE_H_
