# No agent or influxdb block: defaults, and points go to stdout.
source "app" {
  paths    = ["logs/app.log"] # relative to this file's directory
  exclude  = ["*.gz", "logs/old/*"]
  start_at = "beginning"
  rule "app_lines" {
    logfmt      = true
    measurement = "lines"
    require "level" {
      not_equals = "debug"
    }
    require "msg" {
      regex = "^request"
    }
    fields = { ok = "bool", duration = "duration" }
    field "size" {
      from = "bytes"
      type = "uint"
    }
  }
}
