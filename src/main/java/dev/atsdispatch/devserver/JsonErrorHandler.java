package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Errors raised by Jetty itself, before a request reaches {@link HttpApi} (a malformed request
 * target, a request line that is too long, ...), answered as {@code {"error": "..."}} instead of
 * Jetty's HTML page: the CLI parses every response body as JSON (ats-protocol.md §2.1).
 */
final class JsonErrorHandler extends ErrorHandler {
  @Override
  public boolean errorPageForMethod(String method) {
    return true;
  }

  @Override
  protected void generateResponse(Request request, Response response, int code, String message,
      Throwable cause, Callback callback) {
    String reason = HttpStatus.getMessage(code);
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("error", message == null || message.isBlank() || message.equals(reason)
        ? reason : reason + ": " + message);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
    response.write(true, ByteBuffer.wrap(n.toString().getBytes(StandardCharsets.UTF_8)), callback);
  }
}
