source "app" {
  paths = ["input.log"]
  rule "errors" {
    logfmt = true
    require "level" {
      equals = "error"
    }
    require "path" {
      regex = "^/api/"
    }
    require "bot" {
      not_equals = "yes"
    }
    require "msg" {
      not_regex = "(?i)health"
    }
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["path"]
    fields = { n = "int" }
  }
}
