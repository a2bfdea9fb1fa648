// One kitchen station's open tickets as the hub says they are, kept by the station's `rev`: the station
// screen (kds.js) holds one, the expo (expo.js) one per station of the store.
//
// A state the hub answered (kitchen.get, or one station of kitchen.expo) is taken whole at its rev; then
// each KitchenTicketChanged / KitchenStationChanged of the station's stream whose rev is the next one is
// applied. An event at or below the rev is already shown; a jump means one was missed and the station is
// read again (kitchen.get), holding the events that arrive meanwhile so that none falls between the two.
// live.js resumes the stream after a drop; when the hub cannot replay it (resync) the station is read again.
// A command's reply, which often comes before its event, is applied when it is the next change and is
// otherwise left to the events.

const RETRY_MS = 3000;

export class StationTickets {
  /**
   * station: what is known of the station before its first state (at least its station_id).
   * hooks: clock (a HubClock: each state sets it from its server_time); changed() after an event applied
   * or a reload (the screen redraws); failed(err) when a reload failed (tried again 3 s later);
   * arrived(ticket), optional, when an event (not a reply) brings a ticket the station did not have.
   */
  constructor(live, station, hooks) {
    this.live = live;
    this.hooks = hooks;
    this.station = station;
    this.rev = null; // null until the first state
    this.tickets = new Map();
    this.loading = false;
    this.held = []; // events that arrived during a reload
    this.stop = null; // unsubscribes, once following
  }

  /** A state exactly as the hub answered it. */
  take(state) {
    this.station = state.station;
    this.rev = state.rev;
    this.tickets = new Map(state.tickets.map((ticket) => [ticket.ticket_id, ticket]));
    this.hooks.clock.set(state.server_time);
  }

  /** Follow the station's stream, from `from` ({seq, epoch} of a state taken) or from its first reload. */
  follow(stream, from) {
    if (this.stop) return;
    this.stop = this.live.subscribe(stream, {
      onEvent: (name, payload) => {
        if (this.apply(name, payload, false)) this.hooks.changed();
      },
      onReset: () => this.reload(),
      from,
    });
  }

  /** The station again (a missed change, or the hub could not replay its stream). */
  async reload() {
    if (this.loading) return;
    this.loading = true;
    this.held = [];
    try {
      this.take(await this.live.request("kitchen.get", { station_id: this.station.station_id }));
      this.loading = false;
      const held = this.held;
      this.held = [];
      for (const [name, payload] of held) this.apply(name, payload, false);
    } catch (err) {
      this.loading = false;
      this.hooks.failed(err);
      setTimeout(() => this.reload(), RETRY_MS);
    }
    this.hooks.changed();
  }

  /**
   * One change of the station: an event, or a command's reply (`reply`). Returns false when an event
   * reveals a missed change: the station reloads.
   */
  apply(name, payload, reply) {
    if (this.loading) {
      if (!reply) this.held.push([name, payload]);
      return true;
    }
    if (this.rev === null || payload.rev <= this.rev) return true; // shown already
    if (payload.rev !== this.rev + 1) {
      if (reply) return true;
      this.reload();
      return false;
    }
    this.rev = payload.rev;
    if (name === "KitchenStationChanged") {
      this.station = payload;
    } else if (payload.state === "served") {
      this.tickets.delete(payload.ticket_id);
    } else {
      const arrived = !this.tickets.has(payload.ticket_id);
      this.tickets.set(payload.ticket_id, payload);
      if (arrived && !reply && this.hooks.arrived) this.hooks.arrived(payload);
    }
    return true;
  }
}
