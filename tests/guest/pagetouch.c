// pagetouch: reads one byte of every 4 KiB page of SIZE MiB of FILE from OFFSET MiB through a
// mapping, PASSES times (0: until killed), sleeping SLEEP_MS between passes.
//   pagetouch FILE OFFSET_MIB SIZE_MIB [PASSES [SLEEP_MS]]
// The test guest's hot file set: a page the guest's page cache no longer holds is read from disk
// again on the next pass as a major fault, which is what the balloon's statistics report (a
// read(2) that misses the cache is no fault at all). MADV_RANDOM turns readahead off, so each
// missing page is one fault.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: pagetouch FILE OFFSET_MIB SIZE_MIB [PASSES [SLEEP_MS]]\n");
    return 2;
  }
  const off_t offset = (off_t)atoll(argv[2]) << 20;
  const size_t size = (size_t)atoll(argv[3]) << 20;
  const long passes = argc > 4 ? atol(argv[4]) : 0;
  const long sleep_ms = argc > 5 ? atol(argv[5]) : 1000;
  const int fd = open(argv[1], O_RDONLY);
  if (fd < 0 || size == 0) {
    perror(argv[1]);
    return 1;
  }
  const unsigned char* pages = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, offset);
  if (pages == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  madvise((void*)pages, size, MADV_RANDOM);
  volatile unsigned long sum = 0;
  for (long pass = 0; passes == 0 || pass < passes; ++pass) {
    for (size_t i = 0; i < size; i += 4096) sum += pages[i];
    if (sleep_ms > 0) usleep((useconds_t)sleep_ms * 1000);
  }
  return 0;
}
