import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import ConnectForm from './ConnectForm.svelte';

function setup(onconnect: (url: string, token: string, force: boolean) => Promise<void>) {
  const user = userEvent.setup();
  render(ConnectForm, { props: { onconnect } });
  const url = screen.getByTestId('connect-url') as HTMLInputElement;
  const token = screen.getByTestId('connect-token') as HTMLInputElement;
  return { user, url, token };
}

const reject = (kind: string, message: string) => vi.fn(() => Promise.reject({ kind, message }));

describe('ConnectForm', () => {
  it('labels its fields and hides the token', () => {
    setup(vi.fn(() => Promise.resolve()));
    expect(screen.getByLabelText('Cloud URL')).toBe(screen.getByTestId('connect-url'));
    expect(screen.getByLabelText('API token')).toHaveAttribute('type', 'password');
  });

  it('submits with Enter, trimmed', async () => {
    const onconnect = vi.fn(() => Promise.resolve());
    const { user, url, token } = setup(onconnect);
    await user.type(url, ' https://usage.example.com ');
    await user.type(token, 'secret-token{Enter}');
    expect(onconnect).toHaveBeenCalledWith('https://usage.example.com', 'secret-token', false);
  });

  it('asks before switching while imported files wait for another cloud, then connects with force', async () => {
    const onconnect = vi.fn((_u: string, _t: string, force: boolean) =>
      force ? Promise.resolve() : Promise.reject({ kind: 'pending_uploads', message: '2 imported usage data file(s) are still queued for https://old.example.com/ (account sp)' }),
    );
    const { user, url, token } = setup(onconnect);
    await user.type(url, 'https://new.example.com');
    await user.type(token, 'secret{Enter}');
    const dialog = await screen.findByRole('alertdialog', { name: 'Switch with files still queued?' });
    expect(dialog).toHaveTextContent('still queued for https://old.example.com/ (account sp)');
    expect(onconnect).toHaveBeenCalledTimes(1);
    await user.click(screen.getByRole('button', { name: 'Switch anyway' }));
    expect(onconnect).toHaveBeenLastCalledWith('https://new.example.com', 'secret', true);
  });

  it('puts bad_url under the URL field', async () => {
    const { user, url, token } = setup(reject('bad_url', 'Enter a full address starting with https://.'));
    await user.type(url, 'usage');
    await user.type(token, 'secret{Enter}');
    const err = await screen.findByTestId('connect-error');
    expect(err).toHaveAttribute('data-field', 'url');
    expect(err).toHaveTextContent('Enter a full address starting with https://.');
    expect(url).toHaveAttribute('aria-invalid', 'true');
    expect(url).toHaveAttribute('aria-describedby', err.id);
    expect(token).not.toHaveAttribute('aria-invalid');
  });

  it('puts unauthorized under the token field', async () => {
    const { user, url, token } = setup(reject('unauthorized', 'The cloud refused this token.'));
    await user.type(url, 'https://usage.example.com');
    await user.type(token, 'wrong{Enter}');
    const err = await screen.findByTestId('connect-error');
    expect(err).toHaveAttribute('data-field', 'token');
    expect(token).toHaveAttribute('aria-invalid', 'true');
    expect(url).not.toHaveAttribute('aria-invalid');
  });

  it.each(['offline', 'not_usage_desk', 'version_mismatch'])('puts %s above the button', async (kind) => {
    const { user, url, token } = setup(reject(kind, `problem ${kind}`));
    await user.type(url, 'https://usage.example.com');
    await user.type(token, 'secret{Enter}');
    const err = await screen.findByTestId('connect-error');
    expect(err).toHaveAttribute('data-field', 'form');
    expect(err).toHaveTextContent(`problem ${kind}`);
    expect(err.compareDocumentPosition(screen.getByTestId('connect-submit')) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it('asks for missing fields without calling the backend', async () => {
    const onconnect = vi.fn(() => Promise.resolve());
    const { user, url } = setup(onconnect);
    await user.click(screen.getByTestId('connect-submit'));
    expect(onconnect).not.toHaveBeenCalled();
    expect(screen.getByTestId('connect-error')).toHaveAttribute('data-field', 'url');
    await user.type(url, 'https://usage.example.com{Enter}');
    expect(screen.getByTestId('connect-error')).toHaveAttribute('data-field', 'token');
  });

  it('is disabled while connecting and clears the error when the field is edited', async () => {
    let fail!: (e: unknown) => void;
    const onconnect = vi.fn(() => new Promise<void>((_, r) => (fail = r)));
    const { user, url, token } = setup(onconnect);
    await user.type(url, 'https://usage.example.com');
    await user.type(token, 'secret{Enter}');
    expect(screen.getByTestId('connect-submit')).toBeDisabled();
    expect(url).toBeDisabled();
    fail({ kind: 'bad_url', message: 'Bad address.' });
    await screen.findByTestId('connect-error');
    expect(screen.getByTestId('connect-submit')).toBeEnabled();
    await user.type(url, '/');
    expect(screen.queryByTestId('connect-error')).toBeNull();
  });
});
