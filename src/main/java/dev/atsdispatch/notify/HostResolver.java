package dev.atsdispatch.notify;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/**
 * Name resolution for callback hosts: the seam where tests map names to addresses without DNS.
 * The addresses returned are the ones checked and then connected to.
 */
@FunctionalInterface
public interface HostResolver {
  List<InetAddress> resolve(String host) throws UnknownHostException;

  HostResolver SYSTEM = host -> List.of(InetAddress.getAllByName(host));
}
