// The upload page (GET /upload): Uppy's Dashboard picks or takes dropped photos, and
// @uppy/aws-s3 sends each one straight to the bucket with a form this listener signs
// (POST /v1/uploads, one file each), then confirms it (POST /v1/uploads/ID/done).
// The page's session and its CSRF token ask for the forms: no key, no token is in it.
(() => {
  'use strict';
  const root = document.getElementById('uploader');
  const progress = document.getElementById('progress');
  const list = document.getElementById('uploaded');
  const csrf = root.dataset.csrf;
  const forms = new Map(); // Uppy's file id -> the upload's id
  let confirmed = 0;

  async function post(path, body) {
    const answer = await fetch(path, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body),
    });
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      const reason = (data.files || []).map((f) => f.error).filter(Boolean)[0];
      throw new Error(reason || data.error || `HTTP ${answer.status}`);
    }
    return data;
  }

  function show() {
    const total = uppy.getFiles().length;
    progress.textContent = total ? `uploaded ${confirmed}/${total}` : '';
  }

  const { Uppy, Dashboard, AwsS3 } = window.Uppy;
  const uppy = new Uppy({
    autoProceed: true,
    restrictions: {
      maxFileSize: Number(root.dataset.maxSize),
      allowedFileTypes: root.dataset.types.split(','),
    },
  })
    .use(Dashboard, {
      inline: true, target: '#uploader', height: 420, width: '100%',
      proudlyDisplayPoweredByUppy: false, showProgressDetails: true,
      note: `Images up to ${root.dataset.maxSizeText}; each goes straight to the bucket.`,
    })
    .use(AwsS3, {
      shouldUseMultipart: false, limit: 3,
      async getUploadParameters(file) {
        const { uploads } = await post('/v1/uploads', {
          files: [{ name: file.name, size: file.size, type: file.type }],
        });
        forms.set(file.id, uploads[0].id);
        return { method: 'POST', url: uploads[0].url, fields: uploads[0].fields };
      },
    });

  uppy.on('upload-success', async (file) => {
    try {
      const row = await post(`/v1/uploads/${forms.get(file.id)}/done`, {});
      confirmed += 1;
      const item = document.createElement('li');
      item.textContent = row.key;
      item.dataset.key = row.key;
      list.append(item);
    } catch (error) {
      uppy.info(`${file.name}: ${error.message}`, 'error', 8000);
    }
    show();
  });
  uppy.on('error', (error) => console.error(`ossync: the upload failed: ${error}`));
  uppy.on('upload-error', (file, error) => {
    console.error(`ossync: ${file ? file.name : 'a photo'} was not uploaded: ${error}`);
  });
  for (const name of ['file-added', 'file-removed', 'upload-error', 'complete']) {
    uppy.on(name, show);
  }
})();
