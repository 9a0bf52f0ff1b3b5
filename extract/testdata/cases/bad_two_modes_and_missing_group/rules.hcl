source "s" {
  paths = ["input.log"]
  rule "r" {
    regex = "^(?P<a>\\d+)"
    json  = true
    fields = { b = "int" }
  }
  rule "t" {
    regex = "^(?P<a>\\d+)"
    time {
      from   = "when"
      layout = "unix"
    }
    fields = { a = "int" }
  }
}
