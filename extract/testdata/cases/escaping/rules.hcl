source "s" {
  paths = ["input.log"]
  rule "weird measurement, name" {
    json = true
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = { "tag key=1" = "tag" }
    fields = { "field key,=" = "string" }
  }
}
