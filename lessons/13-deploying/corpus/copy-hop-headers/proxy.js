// The reverse proxy in front of your server: the playground runs it on localhost:9980 (your
// site's public address) and it forwards every request to your server on 9900, as nginx or a
// cloud load balancer does in front of a deployed app. This file is its configuration.
//
// Like every HTTP/1.1 proxy, it forwards the request's end-to-end headers (Host, Origin,
// Sec-WebSocket-Key, cookies ...) and drops the hop-by-hop ones (Connection, Upgrade,
// Keep-Alive ...): they are about one hop, the client's connection to the proxy. Whatever else
// the forwarded request should carry, forwardHeaders returns (nginx: proxy_set_header NAME VALUE).
//
// request: { method, url, headers, remoteAddress }; headers has lower-case names, as in Node
// (request.headers.upgrade is what nginx calls $http_upgrade). A header whose value is
// undefined or '' is not set.
module.exports = {
  // Pass the client's own Upgrade and Connection on, as they came: a plain request has no
  // Upgrade to pass, and keeps its plain Connection.
  forwardHeaders: ({ headers, remoteAddress }) => ({
    'X-Forwarded-For': remoteAddress,
    Upgrade: headers.upgrade,
    Connection: headers.connection,
  }),
};
