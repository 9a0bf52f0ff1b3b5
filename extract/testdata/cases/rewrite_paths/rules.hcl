# Rewrites fold request paths into routes, in order: the query string
# goes, every numeric segment becomes :id, the cache-busting hash of a
# static file goes (its name and extension kept by reference), and "/" is
# emptied. A route a rewrite empties ("/?ping") is as if the line had none:
# the source's route tag, counted as missing. The path field keeps the
# line's value.
source "s" {
  paths = ["input.log"]
  tags  = { route = "unrouted" }
  rule "r" {
    regex = "^(?P<t>\\d+) (?P<method>[A-Z]+) (?P<path>\\S+) (?P<ms>\\d+)$"
    time {
      from   = "t"
      layout = "unix"
    }
    tags = { method = "method", route = "path" }
    field "ms" {
      type = "int"
    }
    field "path" {
      type = "string"
    }
    rewrite "path" {
      regex   = "\\?.*$"
      replace = ""
    }
    rewrite "path" {
      regex   = "/[0-9]+"
      replace = "/:id"
    }
    rewrite "path" {
      regex   = "^/static/(?P<name>[^.]+)\\.[0-9a-f]{4,}\\.(?P<ext>[a-z]+)$"
      replace = "/static/$${name}.$${ext}"
    }
    rewrite "path" {
      regex   = "^/$"
      replace = ""
    }
  }
}
