source "app" {
  paths  = ["/var/log/app.log"]
  colour = "red"
  rule "lines" {
    logfmt  = true
    feilds  = { n = "int" }
    fields  = { n = "int" }
  }
}
