// docs/guides/migration-nestjs-cqrs.md, "before": an order flow on @nestjs/cqrs. Type-checked by
// `npm run lint` and run by __test__/nestjs/examples.test.ts next to after.ts, which does the
// same on @catga/native/nestjs and must print the same lines.
import "reflect-metadata";
import { Injectable, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import {
  Command,
  CommandBus,
  CommandHandler,
  CqrsModule,
  EventBus,
  EventsHandler,
  type ICommandHandler,
  type IEventHandler,
  type IQueryHandler,
  Query,
  QueryBus,
  QueryHandler,
} from "@nestjs/cqrs";

interface Order {
  readonly sku: string;
  readonly quantity: number;
}

// Messages are classes; the result type rides on Command<R> / Query<R>.
export class PlaceOrderCommand extends Command<{ orderId: string }> {
  constructor(
    readonly sku: string,
    readonly quantity: number,
  ) {
    super();
  }
}

export class OrderPlacedEvent {
  constructor(
    readonly orderId: string,
    readonly sku: string,
  ) {}
}

export class GetOrderQuery extends Query<Order | undefined> {
  constructor(readonly orderId: string) {
    super();
  }
}

@Injectable()
export class OrdersRepository {
  private readonly orders = new Map<string, Order>();
  readonly log: string[] = [];

  save(order: Order): string {
    const orderId = `o-${this.orders.size + 1}`;
    this.orders.set(orderId, order);
    return orderId;
  }

  find(orderId: string): Order | undefined {
    return this.orders.get(orderId);
  }
}

@CommandHandler(PlaceOrderCommand)
export class PlaceOrderHandler implements ICommandHandler<PlaceOrderCommand> {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly eventBus: EventBus,
  ) {}

  async execute(command: PlaceOrderCommand) {
    const orderId = this.orders.save({ sku: command.sku, quantity: command.quantity });
    this.eventBus.publish(new OrderPlacedEvent(orderId, command.sku));
    return { orderId };
  }
}

@EventsHandler(OrderPlacedEvent)
export class NotifyWarehouse implements IEventHandler<OrderPlacedEvent> {
  constructor(private readonly orders: OrdersRepository) {}

  handle(event: OrderPlacedEvent) {
    this.orders.log.push(`warehouse notified: ${event.orderId} (${event.sku})`);
  }
}

@QueryHandler(GetOrderQuery)
export class GetOrderHandler implements IQueryHandler<GetOrderQuery> {
  constructor(private readonly orders: OrdersRepository) {}

  async execute(query: GetOrderQuery) {
    return this.orders.find(query.orderId);
  }
}

/** What a controller would call. */
@Injectable()
export class OrdersService {
  constructor(
    private readonly commandBus: CommandBus,
    private readonly queryBus: QueryBus,
  ) {}

  place(sku: string, quantity: number): Promise<{ orderId: string }> {
    return this.commandBus.execute(new PlaceOrderCommand(sku, quantity));
  }

  get(orderId: string): Promise<Order | undefined> {
    return this.queryBus.execute(new GetOrderQuery(orderId));
  }
}

@Module({
  imports: [CqrsModule.forRoot()],
  providers: [OrdersRepository, PlaceOrderHandler, NotifyWarehouse, GetOrderHandler, OrdersService],
})
export class AppModule {}

/** Places an order, reads it back, shuts down; returns what happened, line by line. */
export async function run(): Promise<string[]> {
  const app = await NestFactory.createApplicationContext(AppModule, {
    logger: false,
    abortOnError: false, // throw start-up errors instead of exiting the process
  });
  const orders = app.get(OrdersService);
  const { orderId } = await orders.place("book", 2);
  const order = await orders.get(orderId);
  const lines = [...app.get(OrdersRepository).log, `${orderId}: ${order?.quantity} x ${order?.sku}`];
  await app.close();
  return lines;
}
