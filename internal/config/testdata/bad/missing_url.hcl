# Computed lists and maps (for expressions, conditionals) are fine; the
# missing url is not.
influxdb {
  bucket = "x"
}
source "a" {
  paths = [for p in ["x.log", "y.log"]: p]
  tags = { for k in ["a"]: k => "v" }
  rule "r" {
    logfmt = true
    tags = [for k in ["level"]: k]
    fields = true ? { n = "int" } : {}
  }
}
