import type { AcknowledgedState, Acknowledgement } from './acknowledgements.js';
import type { StreamPosition } from './engine.js';

/**
 * The PostgreSQL engine's acknowledgements: a table of each user's acknowledged position per channel,
 * and the function `acknowledge` that reads the channel's head and, given a position, refuses it or
 * moves the stored one forward (never back) in one statement, whichever node calls it.
 */
export const ACKNOWLEDGEMENTS_MIGRATION = {
  version: 2,
  name: 'acknowledgements',
  sql: `
create table {s}.acknowledgements (
  user_id text not null,
  channel text not null,
  "offset" bigint not null,
  epoch text not null,
  updated_at timestamptz not null default now(),
  primary key (user_id, channel)
);

-- Where p_user's acknowledgement of p_channel and the channel's head stand; with p_offset, first
-- acknowledges up to it: refused ('epoch', 'ahead') when p_epoch is not the channel's or p_offset is
-- past the head, and never moving back.
create function {s}.acknowledge(p_user text, p_channel text, p_offset bigint default null, p_epoch text default null,
  out o_epoch text, out o_head bigint, out o_acknowledged bigint, out o_moved boolean, out o_refused text)
language plpgsql as $$
begin
  o_moved := false;
  select p."offset", p.epoch into o_head, o_epoch from {s}.position(p_channel) p;
  if p_offset is not null then
    if p_epoch is distinct from o_epoch then
      o_refused := 'epoch';
    elsif p_offset > o_head then
      o_refused := 'ahead';
    else
      insert into {s}.acknowledgements as a (user_id, channel, "offset", epoch) values (p_user, p_channel, p_offset, p_epoch)
        on conflict (user_id, channel) do update set "offset" = excluded."offset", epoch = excluded.epoch, updated_at = now()
        where a.epoch <> excluded.epoch or a."offset" < excluded."offset"
        returning true into o_moved;
      o_moved := coalesce(o_moved, false) and p_offset > 0;
    end if;
  end if;
  select a."offset" into o_acknowledged from {s}.acknowledgements a where a.user_id = p_user and a.channel = p_channel and a.epoch = o_epoch;
  o_acknowledged := coalesce(o_acknowledged, 0);
end $$;
`,
};

type Run = <R>(what: string, text: string, values: unknown[]) => Promise<R[]>;
interface Row { o_epoch: string; o_head: string; o_acknowledged: string; o_moved: boolean; o_refused: string | null }

export async function acknowledgeInPostgres(run: Run, schema: string, user: string, channel: string, position: StreamPosition | null): Promise<Acknowledgement> {
  const [row] = await run<Row>(`acknowledgement of channel '${channel}'`,
    `select * from ${schema}.acknowledge($1, $2, $3, $4)`, [user, channel, position?.offset ?? null, position?.epoch ?? null]);
  const answer: Acknowledgement = { head: { offset: Number(row!.o_head), epoch: row!.o_epoch }, acknowledged: Number(row!.o_acknowledged), moved: row!.o_moved };
  if (row!.o_refused === 'epoch' || row!.o_refused === 'ahead') answer.refused = row!.o_refused;
  return answer;
}

export async function acknowledgedInPostgres(run: Run, schema: string, user: string, channel: string): Promise<AcknowledgedState> {
  const { head, acknowledged } = await acknowledgeInPostgres(run, schema, user, channel, null);
  return { head, acknowledged };
}
