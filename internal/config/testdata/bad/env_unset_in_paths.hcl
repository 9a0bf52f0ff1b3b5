source "s" {
  paths = [env("LOGMETRICS_TEST_UNSET")]
  rule "r" {
    logfmt = true
    fields = { v = "int" }
  }
}
