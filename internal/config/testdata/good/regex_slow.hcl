source "s" {
  paths = ["x.log"]
  # 300 optional letters compile to some 600 instructions, and the repeated
  # group keeps the regex from logmetrics' scanner.
  rule "big" {
    regex = "^(?:ab)+ (?P<v>\\d+)(?: [a-z]{0,300})?$"
    time {
      from   = "v"
      layout = "unix"
    }
    fields = { v = "int" }
  }
}
