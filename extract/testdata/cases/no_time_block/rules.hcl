source "s" {
  paths = ["input.log"]
  rule "counter" {
    regex  = "^(?P<level>[A-Z]+) (?P<n>\\d+)"
    tags   = ["level"]
    fields = { n = "int" }
  }
}
