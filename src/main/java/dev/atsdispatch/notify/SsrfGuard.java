package dev.atsdispatch.notify;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.SocketFactory;
import okhttp3.Dns;
import okhttp3.HttpUrl;

/**
 * Keeps callbacks away from internal addresses. Three checks, all through one {@link AddressPolicy}:
 * the URL before the call (scheme, and hosts OkHttp would connect to without asking the Dns), the
 * Dns OkHttp resolves through (so the addresses checked are the ones connected to: no rebinding
 * gap), and the socket factory (the last word, at connect time). One instance per
 * {@link Callbacks}; thread-safe.
 */
final class SsrfGuard implements Dns {
  /** A callback the policy does not allow; never retried. */
  static final class Refused extends UnknownHostException {
    Refused(String message) {
      super(message);
    }
  }

  /** Sees every address just before a socket connects to it; may refuse by throwing (test seam). */
  @FunctionalInterface
  interface ConnectObserver {
    void connecting(InetSocketAddress to) throws IOException;

    ConnectObserver NONE = to -> {};
  }

  private final AddressPolicy policy;
  private final HostResolver resolver;
  private final ConnectObserver observer;
  /** Internal addresses of allowlisted host names, as resolved: the socket check lets these by. */
  private final Set<InetAddress> approved = ConcurrentHashMap.newKeySet();

  SsrfGuard(AddressPolicy policy, HostResolver resolver, ConnectObserver observer) {
    this.policy = policy;
    this.resolver = resolver;
    this.observer = observer;
  }

  /** Throws Refused for a scheme other than http/https or an internal address literal. */
  void checkUrl(HttpUrl url) throws IOException {
    if (!url.scheme().equals("http") && !url.scheme().equals("https")) {
      throw new Refused("only http and https callback URLs are allowed");
    }
    // OkHttp connects to what InetAddress.getByName makes of such a host, without the Dns
    if (AddressPolicy.isLiteral(url.host())) check(url.host(), List.of(InetAddress.getByName(url.host())));
  }

  /** Resolves and checks every address; one internal address refuses the whole name. */
  @Override
  public List<InetAddress> lookup(String host) throws UnknownHostException {
    List<InetAddress> all = resolver.resolve(host);
    if (all == null || all.isEmpty()) throw new UnknownHostException(host + ": no addresses");
    return check(host, all);
  }

  private List<InetAddress> check(String host, List<InetAddress> all) throws Refused {
    if (policy.allowsHost(host)) {
      for (InetAddress a : all) if (AddressPolicy.blockedKind(a) != null) approved.add(a);
      return List.copyOf(all);
    }
    for (InetAddress a : all) {
      String kind = AddressPolicy.blockedKind(a);
      if (kind != null && !policy.allowsAddress(a)) {
        String shown = a.getHostAddress();
        throw new Refused(host.equals(shown)
            ? host + " is a " + kind + " address (not allowed without callback.allow)"
            : host + " resolves to " + kind + " address " + shown + " (not allowed without callback.allow)");
      }
    }
    return List.copyOf(all);
  }

  SocketFactory socketFactory() {
    return new SocketFactory() {
      @Override
      public Socket createSocket() {
        return new GuardedSocket();
      }

      @Override
      public Socket createSocket(String host, int port) throws IOException {
        return connected(new InetSocketAddress(host, port));
      }

      @Override
      public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
        return connected(new InetSocketAddress(host, port));
      }

      @Override
      public Socket createSocket(InetAddress host, int port) throws IOException {
        return connected(new InetSocketAddress(host, port));
      }

      @Override
      public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
          throws IOException {
        return connected(new InetSocketAddress(address, port));
      }

      private Socket connected(InetSocketAddress to) throws IOException {
        Socket s = new GuardedSocket();
        s.connect(to);
        return s;
      }
    };
  }

  private final class GuardedSocket extends Socket {
    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
      if (!(endpoint instanceof InetSocketAddress to) || to.getAddress() == null) {
        throw new Refused("callback connect to an unresolved address refused");
      }
      InetAddress a = to.getAddress();
      String kind = AddressPolicy.blockedKind(a);
      if (kind != null && !policy.allowsAddress(a) && !approved.contains(a)) {
        throw new Refused(a.getHostAddress() + " is a " + kind + " address (not allowed without callback.allow)");
      }
      observer.connecting(to);
      super.connect(endpoint, timeout);
    }
  }
}
