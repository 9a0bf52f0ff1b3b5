source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    regex  = "^(?P<level>\\w+) n=(?P<n>\\d+)$"
    fields = { n = "int" }
    require "level" {
      equals    = "info"
      not_regex = "debug"
    }
    require "n" {
    }
    require "level" {
      not_equals = "trace"
    }
    require "msg" {
      regex = "(unclosed"
    }
  }
}
