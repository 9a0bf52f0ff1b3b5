# A day of the year without the year is resolved in the inferred year:
# with the file modified 2025-12-01, day 60 is 2025-03-01 and day 365 is
# 2024-12-30 (2025-12-31 would be after the mtime plus a day; 2024 is a
# leap year); day 366 only exists in leap years.
source "app" {
  paths = ["input.log"]
  rule "doy" {
    regex = "^(?P<time>\\d{3} \\S+) v=(?P<v>\\d+)$"
    time {
      from   = "time"
      layout = "%j %H:%M:%S"
    }
    fields = { v = "int" }
  }
  rule "doy_go" {
    regex = "^GO (?P<time>\\d{3} \\S+) v=(?P<v>\\d+)$"
    time {
      from   = "time"
      layout = "002 15:04:05"
    }
    fields = { v = "int" }
  }
}
