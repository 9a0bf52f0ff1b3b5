source "app" {
  exclude = ["*.gz"]
  rule "lines" {
    logfmt = true
    fields = env("LOGMETRICS_TEST_UNSET")
  }
}
