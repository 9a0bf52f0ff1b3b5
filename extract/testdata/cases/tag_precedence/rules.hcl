agent {
  tags = { host = "agent-host", dc = "eu1", team = "ops" }
}
source "s" {
  paths = ["input.log"]
  tags  = { team = "shop", env = "prod" }
  rule "r" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = { host = "h", env = "e", path = "p" }
    fields = { v = "int" }
  }
}
