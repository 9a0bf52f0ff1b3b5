# At most two tag sets open per rule: the lines of a third fold into one
# tag set whose tag values from lines are "other" (the source's tag stays).
# When a window closes, its tag sets are closed and the room is free again.
source "app" {
  paths = ["input.log"]
  tags  = { env = "prod" }
  rule "logins" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["user"]
    fields = { n = "int" }
    aggregate {
      window     = "10s"
      stats      = ["sum"]
      max_series = 2
    }
  }
}
