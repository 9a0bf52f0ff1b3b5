agent {
  listen = ""
}
