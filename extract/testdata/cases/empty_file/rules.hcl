source "s" {
  paths = ["input.log"]
  rule "r" {
    logfmt = true
    fields = { v = "int" }
  }
}
