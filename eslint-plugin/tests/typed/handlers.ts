// Part of the typed test project: a handler registered in another file than the publisher.
interface EventToken<N extends string> {
  readonly kind: "event";
  readonly type: N;
  readonly delivery: undefined;
}
declare const builder: { handle(c: unknown, h: () => void): unknown };
export declare const AuditLogged: EventToken<"audit.logged">;
builder.handle(AuditLogged, () => {});
